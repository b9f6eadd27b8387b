"""The key that names one episode of one incident, for receivers that track an incident's whole
life (PagerDuty's ``dedup_key``). Pure.

An incident is one row per fingerprint that reopens after a resolution with a new ``opened_at``: the
key is the incident's id and the episode's start in microseconds since the epoch
(``relops-42-1764851460123456``), so every notification of one episode names the same PagerDuty
alert and a re-fire after a resolution opens a new one. PostgreSQL keeps timestamps to the
microsecond, so the key read back compares exactly with the incident's ``opened_at``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

PREFIX = "relops-"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_KEY = re.compile(r"^relops-([1-9][0-9]{0,18})-([0-9]{1,20})$")


@dataclass(frozen=True, slots=True)
class Episode:
    incident_id: int
    opened_at: datetime


def _micros(moment: datetime) -> int:
    delta = moment.astimezone(UTC) - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def episode_key(incident_id: int, opened_at: datetime) -> str:
    """``relops-<incident id>-<episode start, µs since the epoch>``: at most 47 characters."""
    return f"{PREFIX}{incident_id}-{_micros(opened_at)}"


def parse_episode_key(key: str) -> Episode | None:
    """The episode a key names; None when it is not one of relops' keys."""
    found = _KEY.match(key)
    if found is None:
        return None
    try:
        return Episode(int(found.group(1)), _EPOCH + timedelta(microseconds=int(found.group(2))))
    except OverflowError:  # digits past the year 9999: no episode relops ever opened
        return None
