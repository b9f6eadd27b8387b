"""Multi-window SLO burn-rate math. Pure: no I/O, no clock; every number is exact.

Burn rate = error ratio / (1 - objective), where the error ratio sums bad and total events over
the whole window (never an average of per-minute ratios). Comparisons use Fractions, because in
float64 14 bad of 1,000 at 99.9 % lands on either side of 14x depending on how the objective is
written, and the rule is "burn > 14x": exactly 14x does not fire.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from relops.config import WindowRule


class WindowStatus(enum.StrEnum):
    #: No events at all in the window.
    NO_DATA = "no_data"
    #: Some events, but fewer than the window's minimum: never a breach.
    INSUFFICIENT_DATA = "insufficient_data"
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"


class Severity(enum.StrEnum):
    """A flow's overall state: the worst of its windows and its budget."""

    #: No window has any event and the period is empty.
    NO_DATA = "no_data"
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    @property
    def is_breach(self) -> bool:
        return self in (Severity.WARNING, Severity.CRITICAL)


_SEVERITY_RANK = {Severity.NO_DATA: 0, Severity.OK: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


@dataclass(frozen=True, slots=True)
class Counts:
    """Good and bad events summed over a time range."""

    good: int = 0
    bad: int = 0

    @property
    def total(self) -> int:
        return self.good + self.bad


@dataclass(frozen=True, slots=True)
class WindowResult:
    name: str
    window_s: int
    events: int
    errors: int
    #: None when the window has no events.
    burn_rate: Fraction | None
    status: WindowStatus


@dataclass(frozen=True, slots=True)
class FlowEvaluation:
    flow: str
    objective: Fraction
    windows: tuple[WindowResult, ...]
    period_events: int
    period_errors: int
    #: Fraction of the period's error budget left: 1 untouched, 0 spent, negative overspent.
    #: None when the period has no events.
    budget_remaining: Fraction | None
    budget_exhausted: bool
    #: Seconds until the budget is spent at the shortest window's current burn rate; 0 when
    #: already spent; None when nothing is burning or there is no data.
    time_to_exhaustion_s: int | None
    severity: Severity
    #: Events of the period that corrections left out (maintenance windows, one-off corrections).
    excluded_events: int = 0
    excluded_errors: int = 0
    #: The budget as it would be with those events counted (None when the period has no events).
    budget_remaining_uncorrected: Fraction | None = None

    @property
    def non_empty_windows(self) -> tuple[WindowResult, ...]:
        return tuple(w for w in self.windows if w.events > 0)


@lru_cache(maxsize=1024)
def objective_fraction(objective_percent: Decimal | str | int) -> Fraction:
    """99.9 (percent) -> Fraction(999, 1000), exactly."""
    return Fraction(Decimal(objective_percent)) / 100


@lru_cache(maxsize=256)
def _exact(value: Decimal | int) -> Fraction:
    """A threshold from the config as a Fraction: made once, compared for every window of a tick."""
    return Fraction(value)


def _allowed_error_ratio(objective: Fraction) -> Fraction:
    # Keyed by the integers: hashing a Fraction costs a modular inverse, more than the subtraction.
    return _allowed_by_parts(objective.numerator, objective.denominator)


@lru_cache(maxsize=256)
def _allowed_by_parts(numerator: int, denominator: int) -> Fraction:
    return 1 - Fraction(numerator, denominator)


def burn_rate(counts: Counts, objective: Fraction) -> Fraction | None:
    """Error ratio over the allowed error ratio; None for an empty window (no data is not 0)."""
    total = counts.total
    if total == 0:
        return None
    allowed = _allowed_error_ratio(objective)
    # (bad / total) / (n / d), written as one Fraction: a tick makes one per window of every flow.
    return Fraction(counts.bad * allowed.denominator, total * allowed.numerator)


def _breaches(counts: Counts | None, allowed: Fraction, threshold: Fraction) -> bool:
    """burn > threshold, that is bad/total > threshold * allowed, cross-multiplied: integers only,
    no Fraction to build and normalise for each of a tick's thousands of comparisons."""
    if counts is None or counts.total == 0:
        return False
    return (
        counts.bad * allowed.denominator * threshold.denominator
        > threshold.numerator * allowed.numerator * counts.total
    )


def evaluate_window(
    rule: WindowRule, counts: Counts, objective: Fraction, confirm_counts: Counts | None = None
) -> WindowResult:
    """Classify one window against its rule."""
    burn = burn_rate(counts, objective)
    if counts.total == 0:
        status = WindowStatus.NO_DATA
    elif counts.total < rule.min_events:
        status = WindowStatus.INSUFFICIENT_DATA
    else:
        status = WindowStatus.OK
        if counts.bad >= rule.min_bad_events:
            allowed = _allowed_error_ratio(objective)
            for level, threshold in (
                (WindowStatus.CRITICAL, _exact(rule.critical_burn)),
                (WindowStatus.WARNING, _exact(rule.warning_burn)),
            ):
                confirmed = rule.confirm_window_s is None or _breaches(confirm_counts, allowed, threshold)
                if _breaches(counts, allowed, threshold) and confirmed:
                    status = level
                    break
    return WindowResult(
        name=rule.name,
        window_s=rule.window_s,
        events=counts.total,
        errors=counts.bad,
        burn_rate=burn,
        status=status,
    )


_WINDOW_TO_SEVERITY = {
    WindowStatus.WARNING: Severity.WARNING,
    WindowStatus.CRITICAL: Severity.CRITICAL,
}


def evaluate_flow(
    *,
    flow: str,
    objective: Fraction,
    period_s: int,
    rules: Sequence[WindowRule],
    window_counts: Mapping[str, Counts],
    confirm_counts: Mapping[str, Counts],
    period_counts: Counts,
    budget_min_events: int,
    excluded: Counts = Counts(),
) -> FlowEvaluation:
    """Evaluate every window of one flow, its error budget, and its overall severity.

    ``window_counts`` and ``confirm_counts`` are keyed by rule name; a missing key means no events.
    """
    windows = tuple(
        evaluate_window(
            rule,
            window_counts.get(rule.name, Counts()),
            objective,
            confirm_counts.get(rule.name, Counts()) if rule.confirm_window_s is not None else None,
        )
        for rule in rules
    )
    budget_remaining = budget_left(period_counts, objective)
    uncorrected = budget_remaining
    if excluded.total:
        everything = Counts(good=period_counts.good + excluded.good, bad=period_counts.bad + excluded.bad)
        uncorrected = budget_left(everything, objective)
    budget_exhausted = (
        budget_remaining is not None and budget_remaining <= 0 and period_counts.total >= budget_min_events
    )

    severity = Severity.NO_DATA
    if period_counts.total or any(w.events for w in windows):
        severity = Severity.OK
    for window in windows:
        candidate = _WINDOW_TO_SEVERITY.get(window.status)
        if candidate is not None and candidate.rank > severity.rank:
            severity = candidate
    if budget_exhausted:
        severity = Severity.CRITICAL

    return FlowEvaluation(
        flow=flow,
        objective=objective,
        windows=windows,
        period_events=period_counts.total,
        period_errors=period_counts.bad,
        budget_remaining=budget_remaining,
        budget_exhausted=budget_exhausted,
        time_to_exhaustion_s=time_to_exhaustion_s(budget_remaining, _shortest(windows), period_s),
        severity=severity,
        excluded_events=excluded.total,
        excluded_errors=excluded.bad,
        budget_remaining_uncorrected=uncorrected,
    )


def budget_left(period: Counts, objective: Fraction) -> Fraction | None:
    """The fraction of the period's error budget left: 1 untouched, 0 spent, negative overspent."""
    burn = burn_rate(period, objective)
    return None if burn is None else 1 - burn


def _shortest(windows: Sequence[WindowResult]) -> WindowResult | None:
    return min(windows, key=lambda w: w.window_s, default=None)


def time_to_exhaustion_s(budget_remaining: Fraction | None, window: WindowResult | None, period_s: int) -> int | None:
    """At burn rate b the whole budget lasts period/b, so what is left lasts remaining*period/b."""
    if budget_remaining is None:
        return None
    if budget_remaining <= 0:
        return 0
    burn = None if window is None else window.burn_rate
    if burn is None or burn == 0:
        return None
    # remaining * period / burn, floored in integers (both positive here).
    return (budget_remaining.numerator * burn.denominator * period_s) // (budget_remaining.denominator * burn.numerator)
