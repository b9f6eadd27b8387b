"""The breaker state machine with an injected clock (milliseconds)."""

from relops_client.breaker_machine import Breaker, BreakerRules, Decision, State, acquire, report
from relops_client.breaker_settings import BreakerSettings, machine_rules

RULES = machine_rules(BreakerSettings(failure_threshold=3, open_s=10, half_open_probes=2, probe_lease_s=5))


def fail(b, now, rules=RULES, n=1):
    return report(b, rules, now, b.generation, 0, n)


def test_consecutive_failures_open_it_once():
    b = Breaker()
    for t in (1, 2):
        out = fail(b, t)
        b = out.breaker
        assert out.transition is None
    out = fail(b, 3)
    assert out.transition == (State.CLOSED, State.OPEN)
    assert (out.breaker.state, out.breaker.generation, out.breaker.open_until_ms) == (State.OPEN, 1, 10_003)
    # A failure reported for the old generation (a call that started before it opened) changes nothing.
    assert report(out.breaker, RULES, 4, 0, 0, 1).breaker == out.breaker


def test_a_success_ends_the_streak():
    b = fail(fail(Breaker(), 1).breaker, 2).breaker
    b = report(b, RULES, 3, 0, 1, 0).breaker
    assert b.failures == 0
    assert fail(b, 4).transition is None


def test_open_rejects_until_open_until_then_half_opens_with_exactly_the_probe_quota():
    b = fail(Breaker(), 1, n=3).breaker
    assert acquire(b, RULES, 10_000, "a").decision is Decision.REJECT
    out = acquire(b, RULES, 10_001, "a")
    assert out.transition == (State.OPEN, State.HALF_OPEN) and out.decision is Decision.PROBE
    b = out.breaker
    b = acquire(b, RULES, 10_002, "b").breaker
    third = acquire(b, RULES, 10_003, "c")
    assert third.decision is Decision.REJECT
    assert set(third.breaker.leases) == {"a", "b"}


def test_the_probe_quota_of_successes_closes_it():
    b = fail(Breaker(), 1, n=3).breaker
    b = acquire(b, RULES, 20_000, "a").breaker
    b = acquire(b, RULES, 20_000, "b").breaker
    out = report(b, RULES, 20_100, b.generation, 1, 0, "a")
    assert out.transition is None and out.breaker.probe_successes == 1
    # The spent permit is not handed out again: one success plus one live lease fill the quota.
    assert acquire(out.breaker, RULES, 20_101, "c").decision is Decision.REJECT
    out = report(out.breaker, RULES, 20_200, b.generation, 1, 0, "b")
    assert out.transition == (State.HALF_OPEN, State.CLOSED)
    assert out.breaker.state is State.CLOSED and out.breaker.generation == 3


def test_a_failed_probe_reopens_it():
    b = fail(Breaker(), 1, n=3).breaker
    b = acquire(b, RULES, 20_000, "a").breaker
    out = report(b, RULES, 20_050, b.generation, 0, 1, "a")
    assert out.transition == (State.HALF_OPEN, State.OPEN)
    assert out.breaker.open_until_ms == 30_050


def test_a_probe_that_never_reports_back_frees_its_permit_after_its_lease():
    b = fail(Breaker(), 1, n=3).breaker
    b = acquire(b, RULES, 20_000, "a").breaker
    b = acquire(b, RULES, 20_000, "b").breaker
    assert acquire(b, RULES, 24_999, "c").decision is Decision.REJECT
    assert acquire(b, RULES, 25_001, "c").decision is Decision.PROBE


def test_reports_without_a_lease_do_nothing_in_half_open():
    b = fail(Breaker(), 1, n=3).breaker
    b = acquire(b, RULES, 20_000, "a").breaker
    for lease in ("", "someone-else"):
        after = report(b, RULES, 20_001, b.generation, 0, 1, lease).breaker
        assert (after.state, after.generation, after.leases) == (b.state, b.generation, b.leases)


def test_rate_mode_needs_min_calls_and_the_rate():
    rules = machine_rules(BreakerSettings(failure_rate=0.5, window_s=10, min_calls=10, open_s=1))
    b = report(Breaker(), rules, 0, 0, 4, 0).breaker
    out = report(b, rules, 100, 0, 0, 4)  # 4 of 8: under min_calls
    assert out.transition is None
    out = report(out.breaker, rules, 200, 0, 0, 2)  # 6 of 10 failed
    assert out.transition == (State.CLOSED, State.OPEN)


def test_rate_mode_forgets_calls_older_than_the_window():
    rules = machine_rules(BreakerSettings(failure_rate=0.5, window_s=10, min_calls=4, open_s=1))
    b = report(Breaker(), rules, 0, 0, 0, 3).breaker  # 3 failures at t=0
    out = report(b, rules, 20_000, 0, 0, 1)  # 20 s later: only 1 call in the window
    assert out.transition is None
    assert sum(ok + f for ok, f in out.breaker.buckets.values()) == 1


def test_rules_are_the_settings_in_milliseconds():
    """One declaration: the client's settings (defaults and bounds) make the machine's rules."""
    defaults = BreakerRules(5, None, window_ms=60_000, min_calls=20, open_ms=30_000, probes=1, lease_ms=30_000)
    assert machine_rules(BreakerSettings()) == defaults
    tuned = BreakerSettings(failure_rate=0.5, window_s=2.5, open_s=0.2, half_open_probes=3, probe_lease_s=0.3)
    rules = machine_rules(tuned)
    assert rules == BreakerRules(5, 0.5, window_ms=2500, min_calls=20, open_ms=200, probes=3, lease_ms=300)
    assert rules.bucket_ms == 250
