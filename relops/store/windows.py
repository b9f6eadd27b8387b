"""Window sums for a chunk of flows: one query per table, whatever the number of flows.

Sums are of raw counters (bad and total over the whole window), never averages of ratios. Each
span is read as minute rows at its ragged edges, hour rows in between and day rows for the whole
UTC days inside it, so a 24 h window costs about 23 hour rows and at most two partial hours of
minute rows per flow, not 1,440 minute rows, and a 30-day period about 30 day rows and the hours
at its two ends, not 720 hour rows.
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
from relops.timeutil import floor_day, floor_hour

HOUR = timedelta(hours=1)
HALF_HOUR = timedelta(minutes=30)
DAY = timedelta(days=1)
# A plan made for this chunk's flows and ranges: psycopg prepares a statement run five times, and
# PostgreSQL's generic plan for it (array and range sizes unknown) read twice the rows here.
_PLAIN_PLANS = text(
    "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true), "
    "set_config('plan_cache_mode', 'force_custom_plan', true)"
)
Table = Literal["ops_flow_minutes", "ops_flow_hours", "ops_flow_days"]
_BUCKET_COLUMN = {"ops_flow_minutes": "minute", "ops_flow_hours": "hour", "ops_flow_days": "day"}


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


def _spans(
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


def _sum_pieces(conn: Connection, table: Table, pieces: Sequence[Piece], flows: list[str]) -> dict[str, tuple]:
    """One query: per flow, a (good, bad) sum pair for each piece, in order (0 where none)."""
    column = _BUCKET_COLUMN[table]
    params: dict[str, object] = {"flows": flows}
    sums, ranges = [], []
    for i, piece in enumerate(pieces):
        params[f"s{i}"], params[f"e{i}"] = piece.start, piece.end
        in_piece = f"{column} >= :s{i} AND {column} < :e{i}"
        # bigint, not the numeric sum() returns: a Python int each instead of a Decimal.
        sums.append(
            f"coalesce(sum(good) FILTER (WHERE {in_piece}), 0)::bigint, "
            f"coalesce(sum(bad) FILTER (WHERE {in_piece}), 0)::bigint"
        )
    # The rows are read once per merged range, not once per piece: the windows' hours overlap (the
    # 6 h window's hours are inside the 24 h window's), and every range costs an index descent per flow.
    for i, (start, end) in enumerate(merged_ranges(pieces)):
        params[f"rs{i}"], params[f"re{i}"] = start, end
        ranges.append(f"({column} >= :rs{i} AND {column} < :re{i})")
    sql = (
        f"SELECT flow, {', '.join(sums)} FROM {table} "
        f"WHERE flow = ANY(:flows) AND ({' OR '.join(ranges)}) GROUP BY flow"
    )
    return {row[0]: tuple(row[1:]) for row in conn.execute(text(sql), params)}


def merged_ranges(pieces: Sequence[Piece]) -> list[tuple[datetime, datetime]]:
    """The pieces' spans with overlapping and touching ones merged, oldest first."""
    merged: list[list[datetime]] = []
    for piece in sorted(pieces, key=lambda p: p.start):
        if merged and piece.start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], piece.end)
        else:
            merged.append([piece.start, piece.end])
    return [(start, end) for start, end in merged]


def _intersect(spans: Spans, start: datetime, end: datetime) -> list[Piece]:
    """The pieces of ``spans`` that fall inside [start, end), as minute and hour pieces."""
    pieces = []
    for span_start, span_end in spans:
        lo, hi = max(span_start, start), min(span_end, end)
        if lo < hi:
            pieces += split_span(lo, hi, days=True)
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
    # These sums are many small index range scans: compiling them (JIT) costs more than running
    # them, parallel workers only compete with the other chunks evaluated at the same time, and a
    # cached generic plan does not know how many flows and ranges this chunk has.
    conn.execute(_PLAIN_PLANS)
    by_table: dict[Table, list[Piece]] = defaultdict(list)
    every_piece = [p for pieces in spans.values() for p, _ in pieces] + [p for ps in minus.values() for p in ps]
    for piece in dict.fromkeys(every_piece):
        by_table[piece.table].append(piece)
    names = [f.name for f in flows]
    tables = list(by_table)
    # Where each piece's pair sits: (which table's row, column of its good count).
    place = {piece: (t, 2 * i) for t, table in enumerate(tables) for i, piece in enumerate(by_table[table])}
    sums = [_sum_pieces(conn, table, by_table[table], names) for table in tables]

    def plan(pieces: Sequence[SignedPiece]) -> list[tuple[int, int, int]]:
        return [(*place[piece], sign) for piece, sign in pieces]

    def add(rows: list[tuple | None], steps: list[tuple[int, int, int]]) -> Counts:
        good = bad = 0
        for t, column, sign in steps:
            row = rows[t]
            if row is not None:
                good += sign * row[column]
                bad += sign * row[column + 1]
        return Counts(good=good, bad=bad)

    window_plans = {name: plan(pieces) for (kind, name), pieces in spans.items() if kind == "w"}
    confirm_plans = {name: plan(pieces) for (kind, name), pieces in spans.items() if kind == "c"}
    period_plans = {name: plan(pieces) for (kind, name), pieces in spans.items() if kind == "p"}
    for flow in flows:
        rows = [table_sums.get(flow.name) for table_sums in sums]
        counts = result[flow.name]
        period_plan = period_plans[str(flow.period_days)]
        if not (excluded or {}).get(flow.name):
            counts.windows = {name: add(rows, steps) for name, steps in window_plans.items()}
            counts.confirms = {name: add(rows, steps) for name, steps in confirm_plans.items()}
            counts.period = add(rows, period_plan)
            continue

        # A flow's excluded pieces are taken away as pieces of negative sign.
        def less(key: tuple[str, str, str], sign: int = -1) -> list[tuple[int, int, int]]:
            return plan([(piece, sign) for piece in minus.get(key, ())])

        counts.windows = {n: add(rows, s + less(("w", n, flow.name))) for n, s in window_plans.items()}
        counts.confirms = {n: add(rows, s + less(("c", n, flow.name))) for n, s in confirm_plans.items()}
        counts.period = add(rows, period_plan + less(("p", "", flow.name)))
        counts.period_excluded = add(rows, less(("p", "", flow.name), sign=1))
    return result
