"""The circuit-breaker state machine. Pure: time is an argument, state is a value.

breaker.lua (beside this file) runs the same machine atomically in Redis for every process at once;
tests/integration/test_breaker_lua.py replays random event sequences through both and requires
identical results, so this module is the readable specification of the script.

States: CLOSED (calls pass; failures counted), OPEN (calls fail fast until open_until),
HALF_OPEN (up to ``probes`` trial calls hold leases; that many successes close, one failure
reopens). Every transition increments ``generation``; an outcome reported for an earlier
generation is ignored, so a slow call that started before the breaker opened cannot close it,
and failures from before a recovery cannot reopen it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace


class State(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Decision(enum.StrEnum):
    #: Call it (CLOSED).
    ALLOW = "allow"
    #: Call it as a trial (HALF_OPEN); report with the lease.
    PROBE = "probe"
    #: Fail fast.
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class BreakerRules:
    """When a breaker opens and how it recovers, in the milliseconds the machine counts in: made from
    a dependency's BreakerSettings (relops_client.breakers, where every setting's default and bounds
    are declared) by machine_rules(). breaker.lua takes the same values as its arguments."""

    #: Consecutive failures that open it; used when failure_rate is None.
    failure_threshold: int
    #: Failure rate (0-1] over window_ms that opens it, once min_calls calls were seen; None: count mode.
    failure_rate: float | None
    window_ms: int
    min_calls: int
    open_ms: int
    #: Trial calls HALF_OPEN admits across all processes together; that many successes close it.
    probes: int
    #: A probe that never reports back frees its permit after this long.
    lease_ms: int

    @property
    def bucket_ms(self) -> int:
        return max(1, self.window_ms // 10)


@dataclass(frozen=True)
class Breaker:
    state: State = State.CLOSED
    generation: int = 0
    #: Consecutive failures (count mode).
    failures: int = 0
    #: Rate mode: bucket index -> (successes, failures).
    buckets: dict[int, tuple[int, int]] = field(default_factory=dict)
    open_until_ms: int = 0
    probe_successes: int = 0
    #: lease id -> expiry (ms)
    leases: dict[str, int] = field(default_factory=dict)
    last_failure_ms: int = 0
    last_transition_ms: int = 0


@dataclass(frozen=True)
class Outcome:
    """What one report or acquire did: the new state, and whether this call made a transition."""

    breaker: Breaker
    decision: Decision | None = None
    #: (from, to) when this very call moved the breaker; None otherwise.
    transition: tuple[State, State] | None = None


def _transition(b: Breaker, to: State, now_ms: int, rules: BreakerRules) -> Breaker:
    return replace(
        b,
        state=to,
        generation=b.generation + 1,
        failures=0,
        buckets={},
        probe_successes=0,
        leases={},
        open_until_ms=now_ms + rules.open_ms if to is State.OPEN else 0,
        last_transition_ms=now_ms,
    )


def acquire(b: Breaker, rules: BreakerRules, now_ms: int, lease_id: str) -> Outcome:
    """May a call go ahead now? OPEN turns HALF_OPEN here once open_until has passed."""
    transition = None
    if b.state is State.OPEN:
        if now_ms < b.open_until_ms:
            return Outcome(b, Decision.REJECT)
        b = _transition(b, State.HALF_OPEN, now_ms, rules)
        transition = (State.OPEN, State.HALF_OPEN)
    if b.state is State.CLOSED:
        return Outcome(b, Decision.ALLOW, transition)
    live = {lease: expiry for lease, expiry in b.leases.items() if expiry > now_ms}
    if len(live) + b.probe_successes >= rules.probes:
        return Outcome(replace(b, leases=live), Decision.REJECT, transition)
    live[lease_id] = now_ms + rules.lease_ms
    return Outcome(replace(b, leases=live), Decision.PROBE, transition)


def _rate_exceeded(buckets: dict[int, tuple[int, int]], rules: BreakerRules) -> bool:
    calls = sum(ok + fail for ok, fail in buckets.values())
    fails = sum(fail for _, fail in buckets.values())
    return calls >= rules.min_calls and calls > 0 and fails / calls >= (rules.failure_rate or 1.0)


def report(
    b: Breaker,
    rules: BreakerRules,
    now_ms: int,
    generation: int,
    successes: int,
    failures: int,
    lease_id: str = "",
) -> Outcome:
    """Apply the outcomes of calls admitted under ``generation`` (batched: counts, not one call)."""
    if generation != b.generation:
        return Outcome(b)
    if failures:
        b = replace(b, last_failure_ms=now_ms)
    if b.state is State.HALF_OPEN:
        if not lease_id or lease_id not in b.leases:
            return Outcome(b)
        leases = {k: v for k, v in b.leases.items() if k != lease_id}
        if failures:
            return Outcome(_transition(b, State.OPEN, now_ms, rules), transition=(State.HALF_OPEN, State.OPEN))
        b = replace(b, leases=leases, probe_successes=b.probe_successes + 1)
        if b.probe_successes >= rules.probes:
            return Outcome(_transition(b, State.CLOSED, now_ms, rules), transition=(State.HALF_OPEN, State.CLOSED))
        return Outcome(b)
    if b.state is State.OPEN:
        return Outcome(b)
    if rules.failure_rate is None:
        # A batch holding failures adds them (their order against its successes is unknown);
        # successes alone end the streak.
        count = b.failures + failures if failures else 0
        b = replace(b, failures=count)
        if count >= rules.failure_threshold:
            return Outcome(_transition(b, State.OPEN, now_ms, rules), transition=(State.CLOSED, State.OPEN))
        return Outcome(b)
    bucket = now_ms // rules.bucket_ms
    oldest = bucket - 9
    buckets = {k: v for k, v in b.buckets.items() if k >= oldest}
    ok, fail = buckets.get(bucket, (0, 0))
    buckets[bucket] = (ok + successes, fail + failures)
    b = replace(b, buckets=buckets)
    if failures and _rate_exceeded(buckets, rules):
        return Outcome(_transition(b, State.OPEN, now_ms, rules), transition=(State.CLOSED, State.OPEN))
    return Outcome(b)
