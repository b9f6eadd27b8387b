"""The dashboard's Jinja templates (templates/) and the filters they format with."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from fastapi.templating import Jinja2Templates


def safe_link(url: str) -> str | None:
    """Only absolute http(s) URLs become links; anything else is shown as text."""
    return url if url.startswith(("https://", "http://")) else None


def when(value: str | datetime | None) -> str:
    """2026-11-27 12:04:44 UTC from an ISO timestamp or a datetime; "-" for none."""
    if not value:
        return "-"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def evaluated_minute(value: str | datetime | None) -> str:
    """The minute an evaluation covers, from its as_of (the minute's close, which lies ahead of the
    clock while the minute runs): "2026-11-27 12:04 UTC" for 12:05:00."""
    if not value:
        return "-"
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return (moment.astimezone(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M UTC")


def when_ms(epoch_ms: int | None) -> str:
    return "-" if not epoch_ms else datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def when_epoch(epoch_s: int | None) -> str:
    return "-" if epoch_s is None else datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d %H:%M UTC")


def path_segment(value: str) -> str:
    """``value`` as one URL path segment: a flow name may hold a slash."""
    return quote(value, safe="")


def trend_height(burn_rate: float | None) -> int:
    """A trend bar's height class (4-20 px): the page may not carry inline styles."""
    return max(4, min(int((burn_rate or 0) * 2), 20))


def dashboard_templates() -> Jinja2Templates:
    """The templates with their filters (nothing is read until a template is first rendered)."""
    templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
    templates.env.filters.update(
        safe_link=safe_link,
        when=when,
        evaluated_minute=evaluated_minute,
        when_ms=when_ms,
        when_epoch=when_epoch,
        trend_height=trend_height,
        path_segment=path_segment,
    )
    return templates


TEMPLATES = dashboard_templates()
