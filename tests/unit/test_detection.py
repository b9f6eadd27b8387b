"""Detection times from the configured rules, checked against the burn-rate classifier itself."""

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from relops.config import DEFAULT_WINDOWS, WindowRule
from relops.slo.burnrate import Counts, WindowStatus, evaluate_window, objective_fraction
from relops.slo.detection import (
    Detection,
    detection_s,
    first_critical,
    first_detection,
    single_error_detection,
)

P999 = objective_fraction("99.9")
STEADY = Fraction(10)  # events per second
RANK = {WindowStatus.OK: 0, WindowStatus.WARNING: 1, WindowStatus.CRITICAL: 2}


def test_a_total_outage_of_a_999_flow_crosses_14x_over_1h_after_50_4_s():
    # The SRE Workbook's figure: (1 - SLO) / error ratio * window * threshold = 0.001 * 3600 * 14.
    assert first_critical(DEFAULT_WINDOWS, P999, Fraction(1), STEADY) == Detection("1h", "critical", Fraction(504, 10))
    assert first_detection(DEFAULT_WINDOWS, P999, Fraction(1), STEADY) == Detection("1h", "warning", Fraction(252, 10))


def test_ten_percent_errors_warn_over_1h_and_turn_critical_later():
    assert first_detection(DEFAULT_WINDOWS, P999, Fraction(1, 10), STEADY) == Detection("1h", "warning", Fraction(252))
    assert first_critical(DEFAULT_WINDOWS, P999, Fraction(1, 10), STEADY) == Detection("1h", "critical", Fraction(504))


def test_a_slow_2x_burn_is_only_caught_by_the_24h_warning_after_18_hours():
    assert first_detection(DEFAULT_WINDOWS, P999, Fraction(2, 1000), STEADY) == Detection(
        "24h", "warning", Fraction(64800)
    )
    assert first_critical(DEFAULT_WINDOWS, P999, Fraction(2, 1000), STEADY) is None


def test_a_burn_at_the_threshold_never_fires():
    assert first_detection(DEFAULT_WINDOWS, P999, Fraction(15, 10000), STEADY) is None


def test_one_bad_request_pages_a_low_traffic_flow_and_not_a_busy_one():
    one_a_minute = Fraction(1, 60)
    assert single_error_detection(DEFAULT_WINDOWS, P999, one_a_minute) == Detection("1h", "critical", Fraction(0))
    assert single_error_detection(DEFAULT_WINDOWS, P999, Fraction(2)) is None


def test_a_bad_event_floor_and_a_confirmation_window_delay_detection():
    rule = WindowRule(
        name="1h",
        window_s=3600,
        min_events=3,
        warning_burn=7,
        critical_burn=14,
        confirm_window_s=300,
        min_bad_events=600,
    )
    # 50.4 s for the window; the 5-minute confirmation crosses sooner (4.2 s); 600 bad at 10/s take 60 s.
    assert detection_s(rule, "critical", P999, Fraction(1), STEADY) == 60


def _status(rule: WindowRule, objective: Fraction, ratio: Fraction) -> WindowStatus:
    """The rule's status for a window whose error ratio is exactly ``ratio``, with plenty of events."""
    scale = 10**6
    bad, total = ratio.numerator * scale, ratio.denominator * scale
    return evaluate_window(rule, Counts(good=total - bad, bad=bad), objective).status


@settings(max_examples=200, deadline=None)
@given(
    objective=st.sampled_from(["99", "99.5", "99.9", "99.95", "99.99"]),
    error_ratio=st.fractions(min_value=Fraction(1, 10**5), max_value=1),
    rule=st.sampled_from(DEFAULT_WINDOWS),
    level=st.sampled_from(["warning", "critical"]),
)
def test_the_classifier_crosses_the_level_exactly_at_the_detection_time(objective, error_ratio, rule, level):
    target = objective_fraction(objective)
    seconds = detection_s(rule, level, target, error_ratio, STEADY)
    wanted = WindowStatus.CRITICAL if level == "critical" else WindowStatus.WARNING
    full_window = _status(rule, target, error_ratio)
    if seconds is None or seconds > rule.window_s:
        assert RANK[full_window] < RANK[wanted]
        return
    # After t seconds of errors the window's error ratio is error_ratio * t / window.
    at = _status(rule, target, error_ratio * seconds / rule.window_s)
    just_after = _status(rule, target, error_ratio * (seconds + Fraction(1, 1000)) / rule.window_s)
    assert RANK[at] < RANK[wanted] <= RANK[just_after]
