"""Which minutes a pull of a Prometheus-sourced flow reads: the closed ones since the last pull
and a few before them again, a new flow's history newest hour first, an outage caught up oldest
first, never more than an hour per query, and a state that moves only past what was written."""

from __future__ import annotations

from relops.slo.pull_plan import HOUR_S, PullState, Span, advance, plan_pull

H = 1_765_000_000 // HOUR_S * HOUR_S  # an hour start
SETTINGS = {"settle_s": 30, "repull_minutes": 5, "period_s": 6 * HOUR_S, "max_hours": 3}


def run(state: PullState, now: float, **overrides: int) -> tuple[list[Span], PullState]:
    spans, start = plan_pull(state, now, **{**SETTINGS, **overrides})
    for span in spans:
        start = advance(start, span)
    return spans, start


def test_a_new_flow_reads_its_current_hour_then_its_history_newest_first():
    spans, state = run(PullState(), H + 10 * 60 + 45)
    assert spans[0] == Span(H - 300, H)  # the repull before the hour: the backfill reads it again too
    assert spans[1] == Span(H, H + 10 * 60)  # up to the minute that closed 30 s ago
    assert spans[2:] == [Span(H - HOUR_S, H, True), Span(H - 2 * HOUR_S, H - HOUR_S, True)]
    assert state == PullState(pulled_until=H + 600, backfill_until=H - 2 * HOUR_S, backfill_from=H - 6 * HOUR_S)
    # The next pulls finish the backfill (6 hours back from the hour the flow was first seen).
    spans, state = run(state, H + 11 * 60 + 45)
    assert [s for s in spans if not s.backfill] == [Span(H + 300, H + 660)]
    assert [s.start for s in spans if s.backfill] == [H - 3 * HOUR_S, H - 4 * HOUR_S, H - 5 * HOUR_S]
    spans, state = run(state, H + 12 * 60 + 45)
    assert [s.start for s in spans if s.backfill] == [H - 6 * HOUR_S]
    assert state.backfill_until is None and state.backfill_from is None
    spans, _ = run(state, H + 13 * 60 + 45)
    assert spans == [Span(H + 420, H + 780)]


def test_a_minute_not_yet_settled_is_not_read():
    state = PullState(pulled_until=H + 600)
    spans, after = run(state, H + 660 + 29, repull_minutes=0)
    assert spans == [] and after == state
    spans, after = run(state, H + 660 + 30, repull_minutes=0)
    assert spans == [Span(H + 600, H + 660)] and after.pulled_until == H + 660


def test_an_outage_is_caught_up_oldest_first_an_hour_per_query_and_a_few_hours_per_pull():
    state = PullState(pulled_until=H + 600)
    spans, after = run(state, H + 10 * HOUR_S, repull_minutes=0, max_hours=3)
    assert spans == [Span(H + 600, H + HOUR_S), *(Span(H + i * HOUR_S, H + (i + 1) * HOUR_S) for i in (1, 2, 3))]
    assert after.pulled_until == H + 4 * HOUR_S
    assert all(span.end - span.start <= HOUR_S for span in spans)


def test_the_state_moves_only_past_a_span_written():
    state = PullState(pulled_until=H, backfill_until=H - HOUR_S, backfill_from=H - 3 * HOUR_S)
    assert advance(state, Span(H, H + 600)).pulled_until == H + 600
    assert advance(state, Span(H - 2 * HOUR_S, H - HOUR_S, True)).backfill_until == H - 2 * HOUR_S
    assert advance(state, Span(H - 3 * HOUR_S, H - 2 * HOUR_S, True)) == PullState(pulled_until=H)
