"""The facts an alert message shows, as plain (unescaped) text. Pure: no I/O, no clock.

Shared by the Slack and email renderers so both say the same thing; each renderer escapes for its
own medium (Slack mrkdwn, HTML). Everything here copes with any JSON in ``details``: an event's
details are validated for size only, so a wrong type shows as text instead of crashing a send.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from relops.channels.base import Notification

ELLIPSIS = "…"
#: Longest URL shown as a link; longer ones are shown as text.
MAX_LINK_CHARS = 2000
#: Longest value of one generic detail (cron and other non-SLO alerts).
MAX_FACT_VALUE_CHARS = 200
EMOJI = {"critical": "🔴", "warning": "🟠", "resolved": "✅", "notice": "🔕", "notice-ended": "🔔"}
_SUBJECT_KEYS = ("flow", "job", "name", "dependency", "silence")
#: Characters that end or break a link in Slack (<url|text>) or an HTML attribute: percent-encoded.
_LINK_UNSAFE = {"<": "%3C", ">": "%3E", "|": "%7C", '"': "%22", "'": "%27", "`": "%60", "\\": "%5C"}
_CONTROL = re.compile(r"[\x00-\x1f\x7f\s]")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SEVERITY_PREFIX = re.compile(r"^(critical|warning|resolved)\s*:\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True, slots=True)
class WindowFact:
    """One burn-rate window: name "1h", rate "20.0x" (or "no data"), status "critical",
    counts "20 bad of 1,000"."""

    name: str
    rate: str
    status: str
    counts: str

    @property
    def burn(self) -> str:
        """ "20.0x (critical)" or "no data" """
        return self.rate if self.rate == "no data" else f"{self.rate} ({self.status})"


def printable(text: str) -> str:
    """``text`` with control characters (bell, escape sequences, C1 codes) replaced by spaces; line
    breaks and tabs stay. Event text reaches terminals, mail clients and chat apps."""
    return _CONTROL_CHARACTERS.sub(" ", text)


def truncate(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)] + ELLIPSIS


def is_firing(n: Notification) -> bool:
    return n.kind == "firing"


def is_notice(n: Notification) -> bool:
    """A notice about relops itself (a silence created or ended), not an alert."""
    return n.kind == "notice"


def label(n: Notification) -> str:
    """CRITICAL, WARNING, RESOLVED or NOTICE."""
    if is_notice(n):
        return "NOTICE"
    if not is_firing(n):
        return "RESOLVED"
    return (n.severity or "alert").upper()


def emoji(n: Notification) -> str:
    if is_notice(n):
        return EMOJI["notice-ended"] if n.details.get("event") == "ended" else EMOJI["notice"]
    return EMOJI["resolved"] if not is_firing(n) else EMOJI.get(n.severity, "⚪")


def subject(n: Notification) -> str:
    """What the alert is about: the flow (or job, dependency) name, else the fingerprint's name."""
    for key in _SUBJECT_KEYS:
        value = n.details.get(key)
        if isinstance(value, str) and value.strip():
            return value
    if ":" in n.fingerprint:
        return n.fingerprint.split(":", 1)[1] or n.fingerprint
    return n.fingerprint or n.title


def headline(n: Notification) -> str:
    """ "CRITICAL · checkout" """
    return f"{label(n)} · {subject(n)}"


def plain_title(n: Notification) -> str:
    """The title without a leading "CRITICAL:" / "WARNING:" (the label says it)."""
    return _SEVERITY_PREFIX.sub("", n.title, count=1) or n.title


def labelled_title(n: Notification) -> str:
    """ "CRITICAL: checkout burning its error budget at 20.0x over 1h", "RESOLVED: …" """
    return f"{label(n)}: {plain_title(n)}"


def count_summary(notifications: Sequence[Notification]) -> str:
    """ "990 critical, 5 warning, 2 resolved, 1 notice": firing by severity (worst first), then
    resolved, then notices."""
    firing = Counter(n.severity for n in notifications if is_firing(n))
    resolved = sum(1 for n in notifications if not is_firing(n) and not is_notice(n))
    notices = sum(1 for n in notifications if is_notice(n))
    order = sorted(firing, key=lambda s: ({"critical": 0, "warning": 1}.get(s, 2), s))
    parts = [f"{firing[s]:,} {s}" for s in order]
    if resolved:
        parts.append(f"{resolved:,} resolved")
    if notices:
        parts.append(f"{notices:,} notice{'s' if notices != 1 else ''}")
    return ", ".join(parts)


def group_title(notifications: Sequence[Notification]) -> str:
    """ "3 alerts: 2 critical, 1 warning" """
    return f"{len(notifications):,} alerts: {count_summary(notifications)}"


def group_emoji(notifications: Sequence[Notification]) -> str:
    firing = [n.severity for n in notifications if is_firing(n)]
    if "critical" in firing:
        return EMOJI["critical"]
    if firing:
        return EMOJI["warning"]
    if all(is_notice(n) for n in notifications):
        return EMOJI["notice"]
    return EMOJI["resolved"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def format_duration(seconds: float) -> str:
    """ "2d 3h", "5h 12m", "12m", "45s" """
    total = int(seconds)
    if total < 60:
        return f"{max(total, 0)}s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


def format_time(value: str) -> str:
    """An ISO-8601 timestamp as "2026-11-27 12:31 UTC"; anything else as given."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    if moment.tzinfo is None:
        return value
    moment = moment.astimezone(UTC)
    if moment.second or moment.microsecond:
        return moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _count(value: Any) -> str:
    number = _number(value)
    if number is None:
        return "?"
    return f"{int(number):,}" if number == int(number) else f"{number:g}"


def is_slo(n: Notification) -> bool:
    """Burn-rate alerts carry per-window numbers; anything else is shown generically."""
    return isinstance(n.details.get("windows"), Mapping)


def window_facts(details: Mapping[str, Any]) -> list[WindowFact]:
    """One entry per window in ``details["windows"]``, in the order the evaluation listed them."""
    windows = details.get("windows")
    if not isinstance(windows, Mapping):
        return []
    facts = []
    for name, window in windows.items():
        window = window if isinstance(window, Mapping) else {}
        status = window.get("status")
        status_text = status.replace("_", " ") if isinstance(status, str) and status else "unknown"
        burn = _number(window.get("burn_rate"))
        rate = "no data" if burn is None or status == "no_data" else f"{burn:.1f}x"
        events = window.get("events")
        counts = f"{_count(window.get('errors'))} bad of {_count(events)}" if events is not None else "no data"
        facts.append(WindowFact(name=str(name), rate=rate, status=status_text, counts=counts))
    return facts


def budget_text(details: Mapping[str, Any]) -> str:
    """ "70.0%", "-40.0% (exhausted)" or "no data"."""
    remaining = _number(details.get("budget_remaining"))
    if remaining is None:
        return "no data"
    text = f"{remaining * 100:.1f}%"
    if details.get("budget_exhausted") is True or remaining <= 0:
        text += " (exhausted)"
    return text


def exhaustion_text(details: Mapping[str, Any]) -> str:
    """ "1d 1h", "now" (already spent) or "not burning"."""
    seconds = _number(details.get("time_to_exhaustion_s"))
    if details.get("budget_exhausted") is True or seconds == 0:
        return "now (exhausted)"
    if seconds is None:
        return "not burning"
    return format_duration(seconds)


def objective_text(details: Mapping[str, Any]) -> str | None:
    objective = _number(details.get("objective_percent"))
    if objective is None:
        return None
    days = _number(details.get("period_days"))
    return f"{objective:g}%" + (f" over {int(days)} days" if days is not None else "")


def period_text(details: Mapping[str, Any]) -> str | None:
    if details.get("period_events") is None:
        return None
    return f"{_count(details.get('period_errors'))} bad of {_count(details.get('period_events'))}"


def generic_facts(details: Mapping[str, Any], limit: int = 8) -> list[Fact]:
    """Up to ``limit`` scalar fields of ``details`` (cron jobs and other non-SLO alerts), in order."""
    facts: list[Fact] = []
    for key, value in details.items():
        if len(facts) >= limit:
            break
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, int | float | str):
            text = str(value)
        else:
            continue
        if not text.strip():
            continue
        name = truncate(str(key).replace("_", " "), 60)
        facts.append(Fact(label=name, value=truncate(text, MAX_FACT_VALUE_CHARS)))
    return facts


def slo_facts(details: Mapping[str, Any]) -> list[Fact]:
    """Budget, time to exhaustion, objective and period counts of a burn-rate alert."""
    facts = [Fact("Budget remaining", budget_text(details)), Fact("Time to exhaustion", exhaustion_text(details))]
    objective = objective_text(details)
    if objective is not None:
        facts.append(Fact("Objective", objective))
    period = period_text(details)
    if period is not None:
        facts.append(Fact("Period events", period))
    return facts


def safe_link(url: str) -> str | None:
    """``url`` if it may become a link: absolute http(s), with a host, no spaces or control
    characters, not too long; characters that would break out of a link are percent-encoded.
    None otherwise (javascript:, data:, relative paths...): show it as text instead."""
    if not isinstance(url, str) or not url or len(url) > MAX_LINK_CHARS or _CONTROL.search(url):
        return None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return "".join(_LINK_UNSAFE.get(c, c) for c in url)


def rest_line(rest: Sequence[Notification]) -> str:
    """ "…and 995 more: 990 critical, 5 warning" """
    return f"{ELLIPSIS}and {len(rest):,} more: {count_summary(rest)}"
