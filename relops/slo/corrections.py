"""Which spans of a flow's events its burn rates and budget leave out. Pure: the clock is an argument.

Two kinds, merged into one set of spans per flow so that no event is left out twice:
- the flow's maintenance windows, when it says ``exclude_maintenance = true``: every occurrence of
  a [[maintenance]] window whose matchers match the flow's alerts' labels;
- one-off corrections operators add after the fact (ops_slo_corrections).
The counters themselves are never edited: the sums are taken from them, less these spans. They
count by the minute, so a span leaves out every minute it touches: nothing the operator named stays
counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from relops.alerting.events import SOURCE_SLO
from relops.config import FlowConfig, MaintenanceConfig
from relops.matchers import all_match
from relops.silencing.maintenance import excluded_spans
from relops.timeutil import floor_minute

Span = tuple[datetime, datetime]


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """The union of ``spans``: sorted, overlapping and touching spans joined."""
    merged: list[Span] = []
    for start, end in sorted(s for s in spans if s[0] < s[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def whole_minutes(span: Span) -> Span:
    """``span`` widened to the minutes it touches: the unit the counters keep."""
    start, end = span
    last = floor_minute(end)
    return floor_minute(start), last if last == end else last + timedelta(minutes=1)


def window_covers(window: MaintenanceConfig, flow: FlowConfig) -> bool:
    """Whether the window's matchers match the flow's alerts (whatever their severity)."""
    labels = {**flow.labels, "source": SOURCE_SLO, "flow": flow.name}
    return all_match(window.parsed_matchers, labels)


def flow_exclusions(
    flow: FlowConfig, windows: Sequence[MaintenanceConfig], corrections: Iterable[Span], start: datetime, end: datetime
) -> list[Span]:
    """The spans of [start, end) the flow's sums leave out."""
    spans = list(corrections)
    if flow.exclude_maintenance:
        for window in windows:
            if window_covers(window, flow):
                spans += excluded_spans(window, start, end)
    return merge_spans((max(s, start), min(e, end)) for s, e in map(whole_minutes, spans))
