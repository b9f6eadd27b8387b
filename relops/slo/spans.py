"""The time arithmetic of window sums, pure: which minute, hour and day counter rows make up a
window, a confirmation window or an SLO period, and which of them a flow's excluded spans take away.

Sums are of raw counters (bad and total over the whole window), never averages of ratios. Each
span is read as minute rows at its ragged edges, hour rows in between and day rows for the whole
UTC days inside it, so a 24 h window costs about 23 hour rows and at most two partial hours of
minute rows per flow, not 1,440 minute rows, and a 30-day period about 30 day rows and the hours
at its two ends, not 720 hour rows. relops.store.windows reads the rows these pieces name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from relops.config import FlowConfig, WindowRule
from relops.slo.burnrate import Counts
from relops.timeutil import floor_day, floor_hour

HOUR = timedelta(hours=1)
HALF_HOUR = timedelta(minutes=30)
DAY = timedelta(days=1)
Table = Literal["ops_flow_minutes", "ops_flow_hours", "ops_flow_days"]


@dataclass
class FlowCounts:
    """A flow's sums, with the events of its excluded spans (corrections) already left out."""

    windows: dict[str, Counts] = field(default_factory=dict)
    confirms: dict[str, Counts] = field(default_factory=dict)
    period: Counts = field(default_factory=Counts)
    #: What the corrections left out of the period (the uncorrected period is period + this).
    period_excluded: Counts = field(default_factory=Counts)


#: Spans of time, [start, end), oldest first and not overlapping.
Spans = Sequence[tuple[datetime, datetime]]


@dataclass(frozen=True, slots=True)
class Piece:
    """Rows of one table whose bucket lies in [start, end)."""

    table: Table
    start: datetime
    end: datetime


def ceil_hour(moment: datetime) -> datetime:
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def ceil_day(moment: datetime) -> datetime:
    floor = floor_day(moment)
    return floor if floor == moment else floor + DAY


def split_span(start: datetime, end: datetime, *, days: bool = False) -> list[Piece]:
    """[start, end) as minute rows before the first whole hour and after the last, hours between
    (and, with ``days``, day rows for the whole days among those hours)."""
    first_hour, last_hour = ceil_hour(start), floor_hour(end)
    if first_hour >= last_hour:
        return [Piece("ops_flow_minutes", start, end)]
    pieces = []
    if start < first_hour:
        pieces.append(Piece("ops_flow_minutes", start, first_hour))
    pieces += split_hours(first_hour, last_hour) if days else [Piece("ops_flow_hours", first_hour, last_hour)]
    if last_hour < end:
        pieces.append(Piece("ops_flow_minutes", last_hour, end))
    return pieces


def split_hours(start: datetime, end: datetime) -> list[Piece]:
    """Hour rows from ``start`` (a whole hour) up to ``end``, with day rows for the whole days
    between. ``end`` may fall inside an hour: the hour rows hold the current, partial hour too."""
    first_day, last_day = ceil_day(start), floor_day(end)
    if first_day >= last_day:
        return [Piece("ops_flow_hours", start, end)]
    pieces = []
    if start < first_day:
        pieces.append(Piece("ops_flow_hours", start, first_day))
    pieces.append(Piece("ops_flow_days", first_day, last_day))
    if last_day < end:
        pieces.append(Piece("ops_flow_hours", last_day, end))
    return pieces


#: (piece, +1 or -1): a window's sum adds some pieces and takes others away.
SignedPiece = tuple[Piece, int]


def window_pieces(start: datetime, end: datetime) -> list[SignedPiece]:
    """A window's span as ``split_span`` splits it, except that a partial hour at either end longer
    than half an hour is read as its hour row less the minutes of that hour outside the window:
    at most 30 minute rows for an edge instead of up to 59."""
    pieces = split_span(start, end, days=True)
    boundary = ceil_hour(start)
    if len(pieces) == 1 and start < boundary < end:  # an hour's worth of minutes across an hour's end
        pieces = [Piece("ops_flow_minutes", start, boundary), Piece("ops_flow_minutes", boundary, end)]
    signed = [(piece, 1) for piece in pieces]
    if len(pieces) == 1:
        return signed
    head, tail = pieces[0], pieces[-1]
    if head.table == "ops_flow_minutes" and head.end - head.start > HALF_HOUR:
        hour = floor_hour(head.start)
        before = Piece("ops_flow_minutes", hour, head.start)
        signed[:1] = [(Piece("ops_flow_hours", hour, head.end), 1), (before, -1)]
    if tail.table == "ops_flow_minutes" and tail.end - tail.start > HALF_HOUR:
        hour_end = tail.start + HOUR
        after = Piece("ops_flow_minutes", tail.end, hour_end)
        signed[-1:] = [(Piece("ops_flow_hours", tail.start, hour_end), 1), (after, -1)]
    return signed


def period_start(as_of: datetime, flow: FlowConfig) -> datetime:
    """The SLO period starts on a whole hour: minute rows are not kept that long."""
    return floor_hour(as_of - timedelta(seconds=flow.period_s))


def chunk_spans(
    flows: Sequence[FlowConfig], rules: Sequence[WindowRule], as_of: datetime
) -> dict[tuple[str, str], list[SignedPiece]]:
    """Every span the chunk needs, keyed (kind, name): w = window, c = confirmation, p = period."""
    spans: dict[tuple[str, str], list[SignedPiece]] = {}
    for rule in rules:
        spans[("w", rule.name)] = window_pieces(as_of - timedelta(seconds=rule.window_s), as_of)
        if rule.confirm_window_s is not None:
            spans[("c", rule.name)] = window_pieces(as_of - timedelta(seconds=rule.confirm_window_s), as_of)
    for flow in flows:
        # The hour table holds the current, partial hour too, so the period needs no minute rows.
        spans[("p", str(flow.period_days))] = [(p, 1) for p in split_hours(period_start(as_of, flow), as_of)]
    return spans


def merged_ranges(pieces: Sequence[Piece]) -> list[tuple[datetime, datetime]]:
    """The pieces' spans with overlapping and touching ones merged, oldest first."""
    merged: list[list[datetime]] = []
    for piece in sorted(pieces, key=lambda p: p.start):
        if merged and piece.start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], piece.end)
        else:
            merged.append([piece.start, piece.end])
    return [(start, end) for start, end in merged]


def intersect_spans(spans: Spans, start: datetime, end: datetime) -> list[Piece]:
    """The pieces of ``spans`` that fall inside [start, end), as minute and hour pieces."""
    pieces = []
    for span_start, span_end in spans:
        lo, hi = max(span_start, start), min(span_end, end)
        if lo < hi:
            pieces += split_span(lo, hi, days=True)
    return pieces


def excluded_pieces(
    flows: Sequence[FlowConfig], rules: Sequence[WindowRule], as_of: datetime, excluded: Mapping[str, Spans]
) -> dict[tuple[str, str, str], list[Piece]]:
    """The pieces of each flow's ``excluded`` spans inside each window, confirmation window and its
    period, keyed (kind, name, flow) like ``chunk_spans`` (the period's name is "")."""
    # Excluded pieces are the flow's own: keyed (kind, name, flow).
    minus: dict[tuple[str, str, str], list[Piece]] = {}
    for flow in flows:
        own = excluded.get(flow.name)
        if not own:
            continue
        for rule in rules:
            minus[("w", rule.name, flow.name)] = intersect_spans(own, as_of - timedelta(seconds=rule.window_s), as_of)
            if rule.confirm_window_s is not None:
                start = as_of - timedelta(seconds=rule.confirm_window_s)
                minus[("c", rule.name, flow.name)] = intersect_spans(own, start, as_of)
        minus[("p", "", flow.name)] = intersect_spans(own, period_start(as_of, flow), as_of)
    return minus
