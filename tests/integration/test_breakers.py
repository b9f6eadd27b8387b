"""Circuit breakers against the real Redis, with several real processes at once."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
import uuid

import pytest
import redis
from relops_client.breaker_machine import State
from relops_client.breakers import BreakerRegistry, CircuitBreaker, add_transition_listener, guard, is_degraded
from relops_client.names import DEFAULT_BREAKERS

from relops.config import BreakerSettings
from relops.errors import DegradedError
from tests.integration.conftest import run_cli, wait_for

pytestmark = pytest.mark.integration
PROCESSES = 8
#: Breakers the test config adds to relops' own: [breakers.NAME] sections (a service's dependencies)
#: and a [receivers.NAME] receiver's, named after it.
CONFIGURED = ("inventory", "google_calendar", "team-a")


def breaker(url: str, name: str, **settings) -> CircuitBreaker:
    client = redis.Redis.from_url(url)
    return CircuitBreaker(name, BreakerSettings(**settings), lambda: client)


CALLS_PER_PROCESS = 5


def _fail_together(url, name, settings, barrier, transitions):
    seen = []
    add_transition_listener(lambda dep, before, after, at: seen.append((before.value, after.value)))
    b = breaker(url, name, **settings)
    barrier.wait(timeout=30)
    for _ in range(CALLS_PER_PROCESS):
        try:
            with b._guarded((ConnectionError,)):
                raise ConnectionError("dependency down")
        except (ConnectionError, DegradedError):
            pass
    transitions.put(seen)


def _probe_together(url, name, settings, barrier, results):
    b = breaker(url, name, **settings)
    barrier.wait(timeout=30)
    ticket = b.admit()
    results.put(None if ticket is None else ticket.lease)


def run_processes(target, args_for, count=PROCESSES):
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(count), ctx.Queue()
    processes = [ctx.Process(target=target, args=(*args_for(barrier), queue)) for _ in range(count)]
    for p in processes:
        p.start()
    results = [queue.get(timeout=60) for _ in processes]
    for p in processes:
        p.join(timeout=30)
        assert p.exitcode == 0
    return results


@pytest.fixture
def name() -> str:
    return f"dep-{uuid.uuid4().hex[:8]}"


def state_of(url, name):
    state = redis.Redis.from_url(url).hget(f"relops:breaker:{name}", "state")
    return state.decode() if state else "closed"  # nothing written yet: a breaker starts closed


def wait_until_trial_due(url, name):
    """Poll Redis's own clock (the one the breaker script uses) until the open period is over."""
    client = redis.Redis.from_url(url)

    def due():
        seconds, micros = client.time()
        return seconds * 1000 + micros // 1000 >= int(client.hget(f"relops:breaker:{name}", "open_until") or 0)

    wait_for(due, timeout_s=5, what="open_s passed")
    client.close()


def test_many_processes_failing_at_once_open_it_exactly_once(bare_redis_url, name):
    settings = {"failure_threshold": 5, "open_s": 60, "refresh_s": 0}
    seen = run_processes(_fail_together, lambda barrier: (bare_redis_url, name, settings, barrier), count=PROCESSES)
    transitions = [t for process in seen for t in process]
    assert transitions == [("closed", "open")]
    assert state_of(bare_redis_url, name) == "open"


def test_half_open_admits_exactly_the_probe_quota_across_processes(bare_redis_url, name):
    settings = {"failure_threshold": 1, "open_s": 0.2, "half_open_probes": 2, "refresh_s": 0}
    opener = breaker(bare_redis_url, name, **settings)
    opener.record(opener.admit(), ok=False)
    assert state_of(bare_redis_url, name) == "open"
    wait_until_trial_due(bare_redis_url, name)  # the state under test is "OPEN, due for trials"
    leases = run_processes(_probe_together, lambda barrier: (bare_redis_url, name, settings, barrier))
    probes = [lease for lease in leases if lease]
    assert len(probes) == 2
    assert state_of(bare_redis_url, name) == "half_open"


def test_successful_probes_close_it_and_a_failed_one_reopens_it(bare_redis_url, name):
    settings = {"failure_threshold": 1, "open_s": 0.1, "half_open_probes": 2, "refresh_s": 0}
    b = breaker(bare_redis_url, name, **settings)
    b.record(b.admit(), ok=False)
    wait_until_trial_due(bare_redis_url, name)
    first, second = b.admit(), b.admit()
    assert first.lease and second.lease and b.admit() is None
    b.record(first, ok=True)
    assert state_of(bare_redis_url, name) == "half_open"
    b.record(second, ok=True)
    assert state_of(bare_redis_url, name) == "closed"
    b.record(b.admit(), ok=False)
    wait_until_trial_due(bare_redis_url, name)
    probe = b.admit()
    b.record(probe, ok=False)
    assert state_of(bare_redis_url, name) == "open"


def test_a_slow_success_counts_as_a_failure(bare_redis_url, name):
    b = breaker(bare_redis_url, name, failure_threshold=2, latency_threshold_ms=5, refresh_s=0)
    for _ in range(2):
        with b._guarded((Exception,)):
            time.sleep(0.02)
    assert state_of(bare_redis_url, name) == "open"


def test_open_fails_fast_without_asking_redis(bare_redis_url, name):
    b = breaker(bare_redis_url, name, failure_threshold=1, open_s=60)
    b.record(b.admit(), ok=False)

    def no_redis():
        raise AssertionError("an OPEN breaker must not ask Redis before open_s passes")

    b._redis = no_redis
    started = time.perf_counter()
    assert b.admit() is None
    with pytest.raises(DegradedError, match="degraded"), b._guarded((Exception,)):
        pass
    assert time.perf_counter() - started < 0.05


def test_redis_down_lets_calls_through_and_says_so_once(caplog, name):
    client = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    b = CircuitBreaker(name, BreakerSettings(failure_threshold=1, refresh_s=0), lambda: client)
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            with pytest.raises(ValueError), b._guarded((ValueError,)):
                raise ValueError("the dependency failed, and Redis is down too")
            with b._guarded((ValueError,)):
                pass
    lines = [r.getMessage() for r in caplog.records if "breaker.redis_unreachable" in r.getMessage()]
    assert len(lines) == 1
    assert not b.is_degraded()


@pytest.fixture
def configure(bare_redis_url, monkeypatch):
    """``configure(name, **settings)``: the breakers guard() and is_degraded() use in this process,
    on the bare Redis index, as a config file with one [breakers.NAME] section would make them."""
    from relops_client.breakers import use_registry

    from relops.wiring import config_breakers

    client = redis.Redis.from_url(bare_redis_url)

    def configure(name: str, **settings) -> None:
        registry = BreakerRegistry({name: BreakerSettings(**settings)}, lambda: client)
        use_registry(lambda: registry)

    yield configure
    use_registry(config_breakers)
    client.close()


def test_guard_decorator_fallback_and_error_classes(bare_redis_url, name, configure):
    configure(name, failure_threshold=1, open_s=60, refresh_s=0)

    @guard(name, fallback=lambda x: f"cached {x}", failures=(ConnectionError,))
    def fetch(x):
        if x == "bug":
            raise KeyError(x)  # not a dependency failure: the breaker stays closed
        if x == "down":
            raise ConnectionError(x)
        return f"fresh {x}"

    with pytest.raises(KeyError):
        fetch("bug")
    assert state_of(bare_redis_url, name) == "closed"
    with pytest.raises(ConnectionError):
        fetch("down")
    assert fetch("a") == "cached a"
    assert is_degraded(name)
    with pytest.raises(DegradedError), guard(name):
        pass


def test_is_degraded_on_a_breaker_that_never_opened(bare_redis_url, name, configure):
    """A new [breakers.x] section, never called; then one failure below the threshold (the state hash
    exists with a failure count and no state field): both are CLOSED, not an error."""
    configure(name, failure_threshold=5, refresh_s=0)
    assert is_degraded(name) is False
    with pytest.raises(ConnectionError), guard(name):
        raise ConnectionError("one failure")
    assert redis.Redis.from_url(bare_redis_url).hget(f"relops:breaker:{name}", "failures") == b"1"
    assert is_degraded(name) is False


def test_one_guard_shared_by_threads_reports_each_outcome_for_its_own_call(bare_redis_url, name, configure):
    """Thread A's call started before the breaker opened and closed again; its failure belongs to that
    old generation and must be ignored, even though thread B entered the same guard after it."""
    configure(name, failure_threshold=1, open_s=0.1, refresh_s=0)
    shared = guard(name)
    entered_a, entered_b, go_a, go_b = (threading.Event() for _ in range(4))
    errors: list[BaseException] = []

    def call(entered: threading.Event, go: threading.Event, fail: bool) -> None:
        try:
            with shared:
                entered.set()
                go.wait(10)
                if fail:
                    raise ConnectionError("the old call fails late")
        except ConnectionError:
            pass
        except BaseException as exc:
            errors.append(exc)

    a = threading.Thread(target=call, args=(entered_a, go_a, True))
    a.start()
    assert entered_a.wait(10)
    other = breaker(bare_redis_url, name, failure_threshold=1, open_s=0.1, refresh_s=0)  # another process
    other.record(other.admit(), ok=False)
    wait_until_trial_due(bare_redis_url, name)
    other.record(other.admit(), ok=True)
    assert state_of(bare_redis_url, name) == "closed"  # two generations after A's call began
    b = threading.Thread(target=call, args=(entered_b, go_b, False))
    b.start()
    assert entered_b.wait(10)
    go_a.set()
    a.join(10)
    assert state_of(bare_redis_url, name) == "closed", "A's stale failure was reported for B's call"
    go_b.set()
    b.join(10)
    assert not errors and state_of(bare_redis_url, name) == "closed"


def test_transitions_of_every_breaker_are_readable_in_one_call(relops_env, bare_redis_url):
    from relops_client.breakers import breaker_states

    states = breaker_states()
    assert {*DEFAULT_BREAKERS, *CONFIGURED} <= set(states)
    assert all("state" in s and "failures" in s for s in states.values())
    assert State(states["postgres"]["state"]) in set(State)


def test_relops_breakers_prints_every_breaker(relops_env):
    output = run_cli("breakers")
    for name in (*DEFAULT_BREAKERS, *CONFIGURED):
        assert name in output
