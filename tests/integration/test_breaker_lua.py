"""The Redis script and the Python specification agree, step for step, on random event sequences."""

from __future__ import annotations

import uuid

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relops_client.breaker_machine import Breaker, acquire, report
from relops_client.breaker_settings import BreakerSettings, machine_rules
from relops_client.breakers import SCRIPT as BREAKER_SCRIPT
from relops_client.breakers import script_args
from relops_client.redis_scripts import run_script

from relops import redis_keys

pytestmark = pytest.mark.integration

RULE_SETS = [
    machine_rules(BreakerSettings(failure_threshold=3, open_s=1, half_open_probes=2, probe_lease_s=0.5)),
    machine_rules(
        BreakerSettings(failure_rate=0.5, window_s=2, min_calls=4, open_s=0.8, half_open_probes=1, probe_lease_s=0.3)
    ),
]

step = st.one_of(
    st.tuples(st.just("acquire"), st.integers(0, 700)),
    st.tuples(
        st.just("report"),
        st.integers(0, 700),
        st.integers(0, 3),
        st.integers(0, 2),
        st.integers(-1, 0),
        st.integers(0, 3),
    ),
)


@pytest.fixture(scope="module")
def client(bare_redis_url):
    connection = redis.Redis.from_url(bare_redis_url)
    yield connection
    connection.close()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule_index=st.integers(0, 1), steps=st.lists(step, min_size=1, max_size=40))
def test_lua_matches_the_specification(client, rule_index, steps):
    rules = RULE_SETS[rule_index]
    keys = list(redis_keys.breaker(f"prop-{uuid.uuid4().hex}"))
    model = Breaker()
    now = 1_000_000
    leases: list[str] = []
    try:
        for op in steps:
            now += op[1]
            if op[0] == "acquire":
                lease = uuid.uuid4().hex
                out = acquire(model, rules, now, lease)
                reply = run_script(client, BREAKER_SCRIPT, keys, ["acquire", now, *script_args(rules), lease])
                assert reply[0].decode() == out.decision.value
                if out.decision.value == "probe":
                    leases.append(lease)
            else:
                _, _, successes, failures, generation_offset, lease_pick = op
                generation = model.generation + generation_offset
                lease = leases[lease_pick % len(leases)] if leases and lease_pick else ""
                out = report(model, rules, now, generation, successes, failures, lease)
                reply = run_script(
                    client,
                    BREAKER_SCRIPT,
                    keys,
                    ["report", now, *script_args(rules), generation, successes, failures, lease],
                )
            model = out.breaker
            state, generation_now, failures_now, open_until = (
                reply[1].decode(),
                int(reply[2]),
                int(reply[3]),
                int(reply[4]),
            )
            assert (state, generation_now, open_until) == (model.state.value, model.generation, model.open_until_ms)
            if rules.failure_rate is None:
                assert failures_now == model.failures
            transition = (reply[6].decode(), reply[7].decode())
            expected = (out.transition[0].value, out.transition[1].value) if out.transition else ("", "")
            assert transition == expected
    finally:
        client.delete(*keys)
