"""Which minutes of a Prometheus-sourced flow a pull reads. Pure: times are unix seconds.

Each pull reads the minutes that closed (and settled) since the last one, and again the last
``repull_minutes`` before them, since a re-read overwrites and samples may arrive late. A flow first
seen is backfilled over its SLO period, newest hour first (recent minutes decide its alerts), a few
hours per pull. After an outage (of Prometheus or of relops) the minutes missed are caught up the
same way, oldest first, at most ``max_hours`` per pull. No span is longer than an hour, so no query
asks Prometheus for more than an hour of raw samples.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

HOUR_S = 3600
MINUTE_S = 60


@dataclass(frozen=True, slots=True)
class PullState:
    """What has been pulled of one flow."""

    #: Minutes before this (a minute start) have been read; None: the flow was never pulled.
    pulled_until: int | None = None
    #: The backfill still owes the hours before this, back to ``backfill_from``; None: none owed.
    backfill_until: int | None = None
    backfill_from: int | None = None


@dataclass(frozen=True, slots=True)
class Span:
    """Minutes [start, end) to read in one query per counter."""

    start: int
    end: int
    #: True for the backfill of a new flow's history (reported apart from the regular pull).
    backfill: bool = False


def _floor(value: int, step: int) -> int:
    return value // step * step


def _hours(start: int, end: int) -> list[tuple[int, int]]:
    """[start, end) cut at hour boundaries."""
    pieces = []
    while start < end:
        cut = min(_floor(start, HOUR_S) + HOUR_S, end)
        pieces.append((start, cut))
        start = cut
    return pieces


def plan_pull(
    state: PullState,
    now: float,
    *,
    settle_s: int,
    repull_minutes: int,
    period_s: int,
    max_hours: int,
) -> tuple[list[Span], PullState]:
    """The spans to read now, in order, and the state they start from (a flow first seen gets its
    backfill here); ``advance`` moves that state past each span once it has been read and written."""
    closed_end = _floor(int(now) - settle_s, MINUTE_S)
    spans: list[Span] = []
    if state.pulled_until is None:
        # First seen: the current hour now, its history later, newest first.
        current_hour = _floor(closed_end, HOUR_S)
        state = PullState(
            pulled_until=current_hour, backfill_until=current_hour, backfill_from=_floor(closed_end - period_s, HOUR_S)
        )
    start = max(state.pulled_until - repull_minutes * MINUTE_S, 0) if state.pulled_until else closed_end
    regular = _hours(start, closed_end)
    budget = max_hours
    for piece_start, piece_end in regular[: budget + 1]:  # the newest hour's repull does not use up the budget
        spans.append(Span(piece_start, piece_end))
    budget -= max(0, len(spans) - 1)
    backfill_until = state.backfill_until
    if backfill_until is not None and state.backfill_from is not None:
        while budget > 0 and backfill_until > state.backfill_from:
            spans.append(Span(backfill_until - HOUR_S, backfill_until, backfill=True))
            backfill_until -= HOUR_S
            budget -= 1
    return spans, state


def advance(state: PullState, span: Span) -> PullState:
    """The state once ``span`` has been read and written."""
    if span.backfill:
        until = span.start
        if state.backfill_from is not None and until <= state.backfill_from:
            return replace(state, backfill_until=None, backfill_from=None)
        return replace(state, backfill_until=until)
    return replace(state, pulled_until=max(state.pulled_until or 0, span.end))
