"""Window sums for a chunk of flows: one query per counter table, whatever the number of flows.
Which rows make up each window is relops.slo.spans' arithmetic; this module reads them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, text

from relops.config import FlowConfig, WindowRule
from relops.slo.burnrate import Counts
from relops.slo.spans import (
    FlowCounts,
    Piece,
    SignedPiece,
    Spans,
    Table,
    chunk_spans,
    excluded_pieces,
    merged_ranges,
)

# A plan made for this chunk's flows and ranges: psycopg prepares a statement run five times, and
# PostgreSQL's generic plan for it (array and range sizes unknown) read twice the rows here.
_PLAIN_PLANS = text(
    "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true), "
    "set_config('plan_cache_mode', 'force_custom_plan', true)"
)
_BUCKET_COLUMN = {"ops_flow_minutes": "minute", "ops_flow_hours": "hour", "ops_flow_days": "day"}


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
    spans = chunk_spans(flows, rules, as_of)
    minus = excluded_pieces(flows, rules, as_of, excluded or {})
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
