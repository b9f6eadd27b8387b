"""Spans split into minute edges and whole hours: together they cover [start, end) exactly once."""

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from relops.store.windows import Piece, split_span

T = datetime(2026, 11, 27, 12, 31, tzinfo=UTC)
M, H = "ops_flow_minutes", "ops_flow_hours"


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
