"""UTC time helpers: minutes and hours are the buckets every counter lives in."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MINUTE = timedelta(minutes=1)


def utcnow() -> datetime:
    return datetime.now(UTC)


def floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def floor_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def floor_day(moment: datetime) -> datetime:
    """The start of the UTC day of ``moment`` (a UTC datetime)."""
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


def floor_to_interval(moment: datetime, interval_s: int) -> datetime:
    """The start of the fixed interval (counted from the epoch) that contains ``moment``."""
    epoch_s = int(moment.timestamp())
    return datetime.fromtimestamp(epoch_s - epoch_s % interval_s, UTC)


def evaluation_end(now: datetime) -> datetime:
    """Windows end at the close of the current minute, so the freshest (partial) minute counts."""
    return floor_minute(now) + MINUTE


def iso_minute(moment: datetime) -> str:
    """2026-11-27T10:24:00Z: the wire format of every minute relops sends or accepts."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00Z")


def parse_utc(text: str) -> datetime:
    """Parse an ISO-8601 timestamp that carries a UTC offset; naive timestamps are refused."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError("has no UTC offset (append Z)")
    return moment.astimezone(UTC)


_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def parse_duration(text: str) -> timedelta:
    """ "90m", "2h", "1d", "1h30m", "45s", or plain seconds ("600"); ValueError otherwise."""
    text = text.strip().lower()
    if text.isdigit():
        return timedelta(seconds=int(text))
    found = _DURATION.match(text)
    if not text or not found or not any(found.groups()):
        raise ValueError(f"{text[:40]!r} is not a duration like 90m, 2h, 1d or 1h30m")
    days, hours, minutes, seconds = (int(g or 0) for g in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
