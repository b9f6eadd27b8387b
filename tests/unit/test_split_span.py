"""Spans split into minute edges and whole hours: together they cover [start, end) exactly once."""

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from relops.slo.spans import Piece, ceil_day, merged_ranges, split_span, window_pieces
from relops.timeutil import floor_day, floor_hour

T = datetime(2026, 11, 27, 12, 31, tzinfo=UTC)
M, H, D = "ops_flow_minutes", "ops_flow_hours", "ops_flow_days"


def test_a_24h_window_is_two_minute_edges_and_23_hours():
    assert split_span(T - timedelta(hours=24), T) == [
        Piece(M, T - timedelta(hours=24), datetime(2026, 11, 26, 13, tzinfo=UTC)),
        Piece(H, datetime(2026, 11, 26, 13, tzinfo=UTC), datetime(2026, 11, 27, 12, tzinfo=UTC)),
        Piece(M, datetime(2026, 11, 27, 12, tzinfo=UTC), T),
    ]


def test_a_span_inside_one_hour_boundary_is_minutes_only():
    start = datetime(2026, 11, 27, 11, 58, tzinfo=UTC)
    assert split_span(start, start + timedelta(minutes=5)) == [Piece(M, start, start + timedelta(minutes=5))]


def test_whole_hour_edges_need_no_minutes():
    start, end = datetime(2026, 11, 27, 6, tzinfo=UTC), datetime(2026, 11, 27, 12, tzinfo=UTC)
    assert split_span(start, end) == [Piece(H, start, end)]


@given(st.integers(0, 60 * 24 * 40), st.integers(1, 60 * 24 * 31))
def test_pieces_tile_the_span(offset_min, length_min):
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=offset_min)
    end = start + timedelta(minutes=length_min)
    pieces = split_span(start, end)
    assert pieces[0].start == start and pieces[-1].end == end
    for before, after in itertools.pairwise(pieces):
        assert before.end == after.start
    for piece in pieces:
        assert piece.start < piece.end
        if piece.table == H:
            assert piece.start.minute == 0 and piece.end.minute == 0


def _minutes_counted(pieces, lo: datetime, hi: datetime) -> dict[datetime, int]:
    """How many times each minute in [lo, hi) is added by signed pieces (a row counts for the
    minutes of its bucket: one, sixty, or a day's)."""
    counted = {}
    minute = lo
    while minute < hi:
        total = 0
        for piece, sign in pieces:
            bucket = {M: minute, H: floor_hour(minute), D: floor_day(minute)}[piece.table]
            total += sign * (piece.start <= bucket < piece.end)
        counted[minute] = total
        minute += timedelta(minutes=1)
    return counted


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60 * 24 * 3), st.integers(1, 60 * 60))
def test_window_pieces_count_every_minute_of_the_window_once_and_no_other(offset_min, length_min):
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=offset_min)
    end = start + timedelta(minutes=length_min)
    pieces = window_pieces(start, end)
    counted = _minutes_counted(pieces, floor_day(start), ceil_day(end) + timedelta(hours=1))
    assert all(times == (1 if start <= minute < end else 0) for minute, times in counted.items())
    for edge in (p for p, _ in pieces if p.table == M):
        assert edge.end - edge.start <= timedelta(minutes=30) or len(pieces) == 1


def test_a_window_ending_late_in_an_hour_reads_that_hour_less_its_minutes_to_come():
    end = datetime(2026, 11, 27, 12, 50, tzinfo=UTC)
    pieces = window_pieces(end - timedelta(hours=6), end)
    assert pieces == [
        (Piece(M, datetime(2026, 11, 27, 6, 50, tzinfo=UTC), datetime(2026, 11, 27, 7, tzinfo=UTC)), 1),
        (Piece(H, datetime(2026, 11, 27, 7, tzinfo=UTC), datetime(2026, 11, 27, 12, tzinfo=UTC)), 1),
        (Piece(H, datetime(2026, 11, 27, 12, tzinfo=UTC), datetime(2026, 11, 27, 13, tzinfo=UTC)), 1),
        (Piece(M, end, datetime(2026, 11, 27, 13, tzinfo=UTC)), -1),
    ]


@given(st.lists(st.tuples(st.integers(0, 500), st.integers(1, 100)), min_size=1, max_size=12))
def test_merged_ranges_cover_exactly_the_pieces_minutes(spans):
    # The sums' WHERE clause reads the merged ranges: every piece's minute inside one, nothing else.
    pieces = [Piece(M, T + timedelta(minutes=a), T + timedelta(minutes=a + n)) for a, n in spans]
    merged = merged_ranges(pieces)
    covered = {T + timedelta(minutes=m) for a, n in spans for m in range(a, a + n)}
    inside = {
        T + timedelta(minutes=m) for m in range(-10, 700) if any(s <= T + timedelta(minutes=m) < e for s, e in merged)
    }
    assert inside == covered
    assert all(e1 < s2 for (_, e1), (s2, _) in itertools.pairwise(merged))  # disjoint, not touching, in order
