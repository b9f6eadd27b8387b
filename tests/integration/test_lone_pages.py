"""A lone CRITICAL goes out at once, whichever channel process takes its delivery first.

The flush that claims a receiver's pending notifications into a message and the delivery of that
message run in different worker processes. If the delivery could start before the claim is visible
to it, it would find nothing to send and the message would wait for the sweeper (every 30 s, and
forever where beat is not running). Here no beat runs, so a single stranded message fails the test.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from tests.conftest import RUN_ID
from tests.integration.conftest import (
    TEST_CONFIG,
    BrokerProducer,
    BrokerUnderTest,
    alert_event,
    private_broker,
    wait_for,
)
from tests.support.celery_process import CeleryProcess, start_worker

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

CRITICALS = 200
#: What "at once" means here: not waiting for a sweep. A message stranded by the race waits for the
#: sweeper (every 30 s; none runs here, so forever); a page that is only slow takes dispatch, flush
#: and send with workers busy: under 1 s on an idle machine, up to 3.4 s seen with a build running
#: beside the suite on the same two cores. The bound sits between the two, so load cannot fail the
#: test and a stranding still does (speed itself is measured by `python -m bench time-to-page`).
DELIVERED_WITHIN_S = 10.0
#: Alerts sent per second: about one flush per alert, so each is a race that a flush can lose.
SEND_RATE_PER_S = 20


def paging_config(path: Path) -> Path:
    """The suite's config with every alert flushed as soon as it is routed (no group window), and rate
    limits that let 200 pages through at once: each CRITICAL is a message of its own."""
    text_ = TEST_CONFIG.format(tick_interval_s=300)
    text_ = text_.replace("group_wait_s = 1\n", "group_wait_s = 0\ngroup_interval_s = 0\n", 1)
    text_ = text_.replace("rate_per_s = 20\nburst = 5", "rate_per_s = 1000\nburst = 1000")
    assert "group_wait_s = 0" in text_ and "burst = 5" not in text_, "the suite's config changed shape"
    path.write_text(text_)
    return path


@pytest.fixture
def paging_stack(relops_env: dict[str, str], output_dir: Path, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Workers of the test's own broker: one for alerts, two per channel queue with two processes
    each. No beat: nothing sweeps."""
    broker = BrokerUnderTest("redis", relops_env["CELERY_BROKER_URL"], relops_env)
    with private_broker(broker, "lone-pages") as urls:
        env = {**relops_env, **urls, "RELOPS_CONFIG": str(paging_config(tmp_path / "paging.toml"))}
        channel_workers = [(f"{c}-{i}", f"alerts.{c}") for c in ("webhook", "email") for i in (1, 2)]
        roles = [("alerts", "alerts"), *channel_workers]

        def start(role: tuple[str, str]) -> CeleryProcess:
            label = f"lone-{role[0]}-{RUN_ID}"
            return start_worker(env, output_dir / f"{label}.log", label, role[1], 2)

        # Five workers start and stop side by side: one after another costs the suite 15 s.
        with ThreadPoolExecutor(len(roles)) as pool:
            starting = [pool.submit(start, role) for role in roles]
            started = [f.result() for f in starting if f.exception() is None]
            try:
                for f in starting:
                    f.result()  # a worker that failed to start fails the test, after the others stop
                yield urls
            finally:
                list(pool.map(CeleryProcess.stop, started))


def delivery_delays(db: Engine) -> list[tuple[str, str, float | None, int]]:
    """(channel, fingerprint, seconds from the alert to its delivery or None, attempts) per notification."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT channel, payload->>'fingerprint', "
                "extract(epoch FROM delivered_at - (payload->>'occurred_at')::timestamptz), attempts "
                "FROM ops_notifications"
            )
        ).all()
    return [(r[0], r[1], None if r[2] is None else float(r[2]), r[3]) for r in rows]


def test_every_lone_critical_is_delivered_at_once_on_every_channel(paging_stack, db):
    producer = BrokerProducer(paging_stack["CELERY_BROKER_URL"], "lone-pages-producer")
    try:
        for i in range(CRITICALS):
            flow = f"lone-{RUN_ID}-{i}"
            producer.send_task("relops.dispatch_alert", queue="alerts", kwargs=alert_event(flow, "critical"))
            time.sleep(1 / SEND_RATE_PER_S)  # pacing the sender, not waiting for an outcome
    finally:
        producer.close()

    def all_delivered() -> bool:
        rows = delivery_delays(db)
        return len(rows) == 2 * CRITICALS and all(delay is not None for _, _, delay, _ in rows)

    # Bounded well past DELIVERED_WITHIN_S: a stranded message would wait for a sweep that never runs.
    wait_for(all_delivered, timeout_s=30, what=f"{2 * CRITICALS} notifications delivered")
    rows = delivery_delays(db)
    late = sorted((d, channel, fingerprint) for channel, fingerprint, d, _ in rows if d > DELIVERED_WITHIN_S)
    assert not late, f"{len(late)} pages took over {DELIVERED_WITHIN_S} s, the slowest: {late[-3:]}"
    assert {attempts for *_, attempts in rows} == {1}
    assert {channel for channel, *_ in rows} == {"webhook", "email"}
