"""Worked numeric vectors for the burn-rate math, boundaries included."""

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relops.config import DEFAULT_WINDOWS, WindowRule
from relops.slo.burnrate import (
    Counts,
    Severity,
    WindowStatus,
    burn_rate,
    evaluate_flow,
    evaluate_window,
    objective_fraction,
    time_to_exhaustion_s,
)

ONE_HOUR, SIX_HOURS, DAY = DEFAULT_WINDOWS
P999 = objective_fraction("99.9")
P995 = objective_fraction("99.5")


NOTHING = Counts()


def flow(window_counts, period=NOTHING, rules=DEFAULT_WINDOWS, objective=P999, confirm=None, **kw):
    return evaluate_flow(
        flow="checkout",
        objective=objective,
        period_s=30 * 86400,
        rules=rules,
        window_counts=window_counts,
        confirm_counts=confirm or {},
        period_counts=period,
        budget_min_events=kw.get("budget_min_events", 30),
    )


def test_objective_is_exact_however_it_is_written():
    assert objective_fraction("99.9") == Fraction(999, 1000)
    assert objective_fraction(Decimal("99.90")) == Fraction(999, 1000)
    assert objective_fraction(Decimal(str(99.9))) == Fraction(999, 1000)


def test_burn_rate_is_error_ratio_over_allowance():
    assert burn_rate(Counts(good=986, bad=14), P999) == 14
    assert burn_rate(Counts(good=995, bad=5), P995) == 1
    assert burn_rate(Counts(good=0, bad=10), P995) == 200


def test_exactly_14x_is_not_critical_but_the_next_error_is():
    # 14 bad of 1,000 at 99.9 %: float64 gives 13.999999999999988 or 14.000000000001542.
    at_threshold = evaluate_window(ONE_HOUR, Counts(good=986, bad=14), P999)
    assert at_threshold.burn_rate == 14
    assert at_threshold.status is WindowStatus.WARNING
    above = evaluate_window(ONE_HOUR, Counts(good=985, bad=15), P999)
    assert above.status is WindowStatus.CRITICAL


def test_exactly_7x_is_ok_and_just_above_is_warning():
    assert evaluate_window(ONE_HOUR, Counts(good=993, bad=7), P999).status is WindowStatus.OK
    # 7001 bad of 1,000,000 -> 7.001x
    assert evaluate_window(ONE_HOUR, Counts(good=992_999, bad=7_001), P999).status is WindowStatus.WARNING


@pytest.mark.parametrize(
    ("rule", "bad", "total", "expected"),
    [
        (SIX_HOURS, 6, 1000, WindowStatus.WARNING),  # 6x exactly: warning (> 3x), not critical
        (SIX_HOURS, 7, 1000, WindowStatus.CRITICAL),
        (SIX_HOURS, 3, 1000, WindowStatus.OK),  # 3x exactly
        (SIX_HOURS, 4, 1000, WindowStatus.WARNING),
        (DAY, 3, 1000, WindowStatus.WARNING),  # 3x: warning (> 1.5x), not critical
        (DAY, 4, 1000, WindowStatus.CRITICAL),
        (DAY, 3, 2000, WindowStatus.OK),  # 1.5x exactly
        (DAY, 4, 2000, WindowStatus.WARNING),  # 2x
    ],
)
def test_design_thresholds(rule, bad, total, expected):
    assert evaluate_window(rule, Counts(good=total - bad, bad=bad), P999).status is expected


def test_empty_window_is_no_data_not_zero():
    result = evaluate_window(ONE_HOUR, Counts(), P999)
    assert result.status is WindowStatus.NO_DATA
    assert result.burn_rate is None


@pytest.mark.parametrize(("rule", "minimum"), [(ONE_HOUR, 3), (SIX_HOURS, 10), (DAY, 30)])
def test_below_minimum_samples_is_insufficient_never_a_breach(rule, minimum):
    sparse = evaluate_window(rule, Counts(good=0, bad=minimum - 1), P999)
    assert sparse.status is WindowStatus.INSUFFICIENT_DATA
    assert sparse.burn_rate == 1000  # every event failed, still not a breach
    assert evaluate_window(rule, Counts(good=0, bad=minimum), P999).status is WindowStatus.CRITICAL


def test_sums_not_averages_of_minute_ratios():
    # Minute A: 1 bad of 1 (100 %), minute B: 0 bad of 999. Averaging ratios says 50 %;
    # the window's real error ratio is 1/1000 = 1x at 99.9 %.
    assert burn_rate(Counts(good=999, bad=1), P999) == 1


def test_min_bad_events_keeps_low_traffic_flows_quiet():
    rule = ONE_HOUR.model_copy(update={"min_bad_events": 5})
    assert evaluate_window(rule, Counts(good=6, bad=4), P999).status is WindowStatus.OK
    assert evaluate_window(rule, Counts(good=5, bad=5), P999).status is WindowStatus.CRITICAL


def test_confirmation_window_must_burn_too():
    rule = ONE_HOUR.model_copy(update={"confirm_window_s": 300})
    long_burning = Counts(good=980, bad=20)  # 20x
    recovered = evaluate_window(rule, long_burning, P999, confirm_counts=Counts(good=100, bad=0))
    assert recovered.status is WindowStatus.OK
    # Short window burns at 10x: above warning (7x) but not critical (14x).
    partly = evaluate_window(rule, long_burning, P999, confirm_counts=Counts(good=99, bad=1))
    assert partly.status is WindowStatus.WARNING
    still = evaluate_window(rule, long_burning, P999, confirm_counts=Counts(good=80, bad=20))
    assert still.status is WindowStatus.CRITICAL
    empty = evaluate_window(rule, long_burning, P999, confirm_counts=Counts())
    assert empty.status is WindowStatus.OK


def test_flow_severity_is_the_worst_window():
    result = flow(
        {
            "1h": Counts(good=990, bad=10),  # 10x: warning
            "6h": Counts(good=9930, bad=70),  # 7x: critical
            "24h": Counts(good=39_960, bad=40),  # 1x: ok
        },
        period=Counts(good=1_000_000, bad=100),
    )
    assert [w.status for w in result.windows] == [
        WindowStatus.WARNING,
        WindowStatus.CRITICAL,
        WindowStatus.OK,
    ]
    assert result.severity is Severity.CRITICAL


def test_no_events_anywhere_is_no_data():
    result = flow({})
    assert result.severity is Severity.NO_DATA
    assert result.budget_remaining is None
    assert result.time_to_exhaustion_s is None


def test_budget_remaining_and_exhaustion():
    # 30-day budget at 99.9 % over 1,000,000 events: 1,000 bad allowed; 250 spent -> 75 % left.
    result = flow({"1h": Counts(good=1000, bad=0)}, period=Counts(good=999_750, bad=250))
    assert result.budget_remaining == Fraction(3, 4)
    assert not result.budget_exhausted
    assert result.severity is Severity.OK


def test_exhausted_budget_is_always_critical():
    result = flow({"1h": Counts(good=1000, bad=0)}, period=Counts(good=998_800, bad=1_200))
    assert result.budget_remaining == Fraction(-1, 5)
    assert result.budget_exhausted
    assert result.severity is Severity.CRITICAL
    assert result.time_to_exhaustion_s == 0


def test_exactly_spent_budget_counts_as_exhausted():
    result = flow({}, period=Counts(good=999_000, bad=1_000))
    assert result.budget_remaining == 0
    assert result.severity is Severity.CRITICAL


def test_exhausted_budget_on_sparse_period_is_not_called_critical():
    result = flow({}, period=Counts(good=0, bad=2))
    assert result.budget_remaining < 0
    assert not result.budget_exhausted
    assert result.severity is Severity.OK


def test_time_to_exhaustion_at_the_shortest_windows_rate():
    # Half the budget left, burning at 10x over 1h: the whole budget lasts 30d/10 = 3 days,
    # half of it 1.5 days.
    result = flow({"1h": Counts(good=990, bad=10)}, period=Counts(good=999_500, bad=500))
    assert result.time_to_exhaustion_s == int(Fraction(1, 2) * 30 * 86400 / 10) == 129_600


def test_time_to_exhaustion_none_when_not_burning():
    assert time_to_exhaustion_s(Fraction(1, 2), None, 86400) is None
    rule = WindowRule(name="1h", window_s=3600, min_events=3, warning_burn=7, critical_burn=14)
    healthy = evaluate_window(rule, Counts(good=100, bad=0), P999)
    assert time_to_exhaustion_s(Fraction(1, 2), healthy, 86400) is None


@settings(max_examples=300, deadline=None)
@given(
    good=st.integers(0, 10**7),
    bad=st.integers(0, 10**7),
    objective=st.decimals(min_value=Decimal("50"), max_value=Decimal("99.9999"), places=4),
    warning=st.decimals(min_value=Decimal("0.5"), max_value=Decimal("50"), places=2),
    confirm_bad=st.integers(0, 10**5),
)
def test_window_status_is_the_fraction_comparison_of_its_burn_rate(good, bad, objective, warning, confirm_bad):
    # Statuses are decided in integers; they must agree with the exact burn rate every time.
    rule = WindowRule(
        name="1h", window_s=3600, min_events=1, warning_burn=warning, critical_burn=warning * 2, confirm_window_s=300
    )
    target = objective_fraction(objective)
    confirm = Counts(good=good // 12, bad=confirm_bad)
    result = evaluate_window(rule, Counts(good=good, bad=bad), target, confirm)
    burn, confirm_burn = burn_rate(Counts(good=good, bad=bad), target), burn_rate(confirm, target)

    def above(threshold: Decimal) -> bool:
        limit = Fraction(threshold)
        return burn is not None and burn > limit and confirm_burn is not None and confirm_burn > limit

    expected = (
        WindowStatus.NO_DATA
        if good + bad == 0
        else WindowStatus.CRITICAL
        if above(warning * 2)
        else WindowStatus.WARNING
        if above(warning)
        else WindowStatus.OK
    )
    assert result.status is expected


@settings(max_examples=200, deadline=None)
@given(period_good=st.integers(1, 10**8), period_bad=st.integers(0, 10**5), window_bad=st.integers(1, 10**4))
def test_time_to_exhaustion_is_the_floor_of_the_exact_quotient(period_good, period_bad, window_bad):
    result = flow({"1h": Counts(good=10_000, bad=window_bad)}, period=Counts(good=period_good, bad=period_bad))
    remaining = result.budget_remaining
    if remaining is None or remaining <= 0:
        assert result.time_to_exhaustion_s in (0, None)
        return
    assert result.time_to_exhaustion_s == int(remaining * 30 * 86400 / result.windows[0].burn_rate)
