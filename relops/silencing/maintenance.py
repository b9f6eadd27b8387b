"""Recurring maintenance windows from the config file ([[maintenance]]). Pure: the clock is an argument.

A window starts at each time its cron expression names, in its own time zone (so a window at 03:00
Europe/Riga stays at 03:00 across a DST change, as cron jobs do), and lasts ``duration_s``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from cronsim import CronSim

from relops.config import MaintenanceConfig
from relops.silencing.silences import Silence


def _next_start(window: MaintenanceConfig, after: datetime) -> datetime:
    """The first start strictly after ``after``."""
    return next(iter(CronSim(window.schedule, after.astimezone(window.zone)))).astimezone(UTC)


def occurrence_at(window: MaintenanceConfig, moment: datetime) -> tuple[datetime, datetime] | None:
    """(start, end) of the occurrence of ``window`` that covers ``moment``, or None."""
    duration = timedelta(seconds=window.duration_s)
    # The latest start at or before the moment is the first start after (moment - duration), if
    # that start is not later than the moment itself.
    start = _next_start(window, moment - duration - timedelta(microseconds=1))
    return (start, start + duration) if start <= moment else None


def next_occurrence(window: MaintenanceConfig, now: datetime) -> tuple[datetime, datetime]:
    """The occurrence in progress at ``now``, or else the next one."""
    current = occurrence_at(window, now)
    if current is not None:
        return current
    start = _next_start(window, now)
    return start, start + timedelta(seconds=window.duration_s)


def maintenance_key(window: MaintenanceConfig) -> str:
    return f"maintenance:{window.name}"


def active_maintenance(windows: Iterable[MaintenanceConfig], now: datetime) -> list[Silence]:
    """The windows in progress at ``now``, as silences."""
    active = []
    for window in windows:
        occurrence = occurrence_at(window, now)
        if occurrence is not None:
            start, end = occurrence
            reason = window.description or f"maintenance window {window.name}"
            active.append(Silence(maintenance_key(window), window.parsed_matchers, start, end, reason))
    return active


def excluded_spans(window: MaintenanceConfig, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Every occurrence of ``window`` that overlaps [start, end), clipped to it, oldest first."""
    duration = timedelta(seconds=window.duration_s)
    spans = []
    cursor = start - duration - timedelta(microseconds=1)
    while True:
        occurrence_start = _next_start(window, cursor)
        if occurrence_start >= end:
            return spans
        occurrence_end = occurrence_start + duration
        if occurrence_end > start:
            spans.append((max(occurrence_start, start), min(occurrence_end, end)))
        cursor = occurrence_start
