"""Window sums for a chunk of flows: two queries per chunk, whatever the number of flows.

Sums are of raw counters (bad and total over the whole window), never averages of ratios. Each
span is read as minute rows at its ragged edges and hour rows in between, so a 24 h window costs
about 24 hour rows and at most two partial hours of minute rows per flow, not 1,440 minute rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, text

from relops.config import FlowConfig, WindowRule
from relops.slo.burnrate import Counts
from relops.timeutil import floor_hour

HOUR = timedelta(hours=1)
Table = Literal["ops_flow_minutes", "ops_flow_hours"]
_BUCKET_COLUMN = {"ops_flow_minutes": "minute", "ops_flow_hours": "hour"}


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


def split_span(start: datetime, end: datetime) -> list[Piece]:
    """[start, end) as minute rows before the first whole hour and after the last, hours between."""
    first_hour, last_hour = ceil_hour(start), floor_hour(end)
    if first_hour >= last_hour:
        return [Piece("ops_flow_minutes", start, end)]
    pieces = []
    if start < first_hour:
        pieces.append(Piece("ops_flow_minutes", start, first_hour))
    pieces.append(Piece("ops_flow_hours", first_hour, last_hour))
    if last_hour < end:
        pieces.append(Piece("ops_flow_minutes", last_hour, end))
    return pieces


def period_start(as_of: datetime, flow: FlowConfig) -> datetime:
    """The SLO period starts on a whole hour: minute rows are not kept that long."""
    return floor_hour(as_of - timedelta(seconds=flow.period_s))


def _spans(
    flows: Sequence[FlowConfig], rules: Sequence[WindowRule], as_of: datetime
) -> dict[tuple[str, str], list[Piece]]:
    """Every span the chunk needs, keyed (kind, name): w = window, c = confirmation, p = period."""
    spans: dict[tuple[str, str], list[Piece]] = {}
    for rule in rules:
        spans[("w", rule.name)] = split_span(as_of - timedelta(seconds=rule.window_s), as_of)
        if rule.confirm_window_s is not None:
            spans[("c", rule.name)] = split_span(as_of - timedelta(seconds=rule.confirm_window_s), as_of)
    for flow in flows:
        # The hour table holds the current, partial hour too, so the period is hours alone.
        spans[("p", str(flow.period_days))] = [Piece("ops_flow_hours", period_start(as_of, flow), as_of)]
    return spans


def _sum_pieces(conn: Connection, table: Table, pieces: Sequence[Piece], flows: list[str]) -> dict[str, list]:
    """One query: per flow, a (good, bad) sum pair for each piece, in order."""
    column = _BUCKET_COLUMN[table]
    params: dict[str, object] = {"flows": flows}
    sums, ranges = [], []
    for i, piece in enumerate(pieces):
        params[f"s{i}"], params[f"e{i}"] = piece.start, piece.end
        in_piece = f"{column} >= :s{i} AND {column} < :e{i}"
        sums.append(f"sum(good) FILTER (WHERE {in_piece}), sum(bad) FILTER (WHERE {in_piece})")
        ranges.append(f"({in_piece})")
    sql = (
        f"SELECT flow, {', '.join(sums)} FROM {table} "
        f"WHERE flow = ANY(:flows) AND ({' OR '.join(ranges)}) GROUP BY flow"
    )
    return {row[0]: list(row[1:]) for row in conn.execute(text(sql), params)}


def _intersect(spans: Spans, start: datetime, end: datetime) -> list[Piece]:
    """The pieces of ``spans`` that fall inside [start, end), as minute and hour pieces."""
    pieces = []
    for span_start, span_end in spans:
        lo, hi = max(span_start, start), min(span_end, end)
        if lo < hi:
            pieces += split_span(lo, hi)
    return pieces


def fetch_flow_counts(
    conn: Connection,
    flows: Sequence[FlowConfig],
    rules: Sequence[WindowRule],
    as_of: datetime,
    excluded: Mapping[str, Spans] | None = None,
) -> dict[str, FlowCounts]:
    """Window, confirmation-window and period sums for every flow of the chunk, less the events of
    each flow's ``excluded`` spans (merged, so no event is left out twice)."""
    result = {f.name: FlowCounts() for f in flows}
    if not flows:
        return result
    spans = _spans(flows, rules, as_of)
    # Excluded pieces are the flow's own: keyed (kind, name, flow).
    minus: dict[tuple[str, str, str], list[Piece]] = {}
    for flow in flows:
        own = (excluded or {}).get(flow.name)
        if not own:
            continue
        for rule in rules:
            minus[("w", rule.name, flow.name)] = _intersect(own, as_of - timedelta(seconds=rule.window_s), as_of)
            if rule.confirm_window_s is not None:
                start = as_of - timedelta(seconds=rule.confirm_window_s)
                minus[("c", rule.name, flow.name)] = _intersect(own, start, as_of)
        minus[("p", "", flow.name)] = _intersect(own, period_start(as_of, flow), as_of)
    by_table: dict[Table, list[Piece]] = defaultdict(list)
    every_piece = [p for pieces in (*spans.values(), *minus.values()) for p in pieces]
    for piece in dict.fromkeys(every_piece):
        by_table[piece.table].append(piece)
    names = [f.name for f in flows]
    piece_counts: dict[tuple[str, Piece], Counts] = {}
    for table, pieces in by_table.items():
        for flow, values in _sum_pieces(conn, table, pieces, names).items():
            for i, piece in enumerate(pieces):
                good, bad = values[2 * i], values[2 * i + 1]
                piece_counts[(flow, piece)] = Counts(good=int(good or 0), bad=int(bad or 0))

    def total(flow: str, pieces: Sequence[Piece]) -> Counts:
        parts = [piece_counts.get((flow, p), Counts()) for p in pieces]
        return Counts(good=sum(c.good for c in parts), bad=sum(c.bad for c in parts))

    def less(flow: str, pieces: Sequence[Piece], kind: str, name: str) -> Counts:
        whole, out = total(flow, pieces), total(flow, minus.get((kind, name, flow), ()))
        return Counts(good=whole.good - out.good, bad=whole.bad - out.bad)

    for flow in flows:
        counts = result[flow.name]
        for (kind, name), pieces in spans.items():
            if kind == "w":
                counts.windows[name] = less(flow.name, pieces, "w", name)
            elif kind == "c":
                counts.confirms[name] = less(flow.name, pieces, "c", name)
        period_pieces = spans[("p", str(flow.period_days))]
        counts.period = less(flow.name, period_pieces, "p", "")
        counts.period_excluded = total(flow.name, minus.get(("p", "", flow.name), ()))
    return result
