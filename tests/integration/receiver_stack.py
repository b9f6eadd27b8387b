"""Workers of a test module's own: its config, a Redis database (and broker) of its own, the alert
router and one notify worker per channel queue it names, as production runs them (Procfile). A
module's receivers are local recording servers (relops.localdev.sink.HttpSink) on 127.0.0.1; once
the workers have stopped, nothing they logged or stored may quote the module's secrets
(secrets_audit)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from relops import names
from tests.conftest import BASE_REDIS_URL, RUN_ID
from tests.integration.conftest import PRIVATE_STACK_CONFIG, BrokerProducer
from tests.integration.secrets_audit import secrets_written, stored_text
from tests.support.celery_process import CeleryProcess, start_worker
from tests.support.scratch import claimed_redis_db, forget_relops_state

#: What a module's config starts with: the private stacks' dashboard and fast alert delivery
#: (conftest.PRIVATE_STACK_CONFIG), no email. The module adds its receivers, their channel settings
#: and its route.
FAST_ALERTS = (
    PRIVATE_STACK_CONFIG
    + """
[alerts.channels.email]
enabled = false
"""
)


@dataclass
class PrivateStack:
    producer: BrokerProducer
    redis_url: str

    def send(self, event: dict[str, Any]) -> None:
        """An alert event, as a service or an evaluation sends it."""
        self.producer.send_task(names.TASK_DISPATCH_ALERT, kwargs=event, queue=names.QUEUE_ALERTS)

    def forget(self) -> None:
        """No relops state left in the stack's Redis (dedup windows, group timers, rate limits, breakers)."""
        forget_relops_state(self.redis_url)


@contextmanager
def private_stack(
    label: str,
    config: Path,
    base_env: Mapping[str, str],
    env: Mapping[str, str],
    queues: Sequence[str],
    output_dir: Path,
    *,
    db: Engine,
    secrets: Sequence[str],
) -> Iterator[PrivateStack]:
    """The stack for the ``with`` block; then the audit of what it wrote (logs and tables)."""
    with claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-{label}") as redis_url:
        full_env = {
            **base_env,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "RELOPS_CONFIG": str(config),
            **env,
        }
        workers: list[CeleryProcess] = []
        producer = BrokerProducer(redis_url, f"producer-{label}-{RUN_ID}")
        try:
            for queue in (names.QUEUE_ALERTS, *queues):
                process_name = f"relops-test-{label}-{queue.replace('.', '-')}-{RUN_ID}"
                workers.append(start_worker(full_env, output_dir / f"{process_name}.log", process_name, queue, 1))
            yield PrivateStack(producer, redis_url)
        finally:
            producer.close()
            for worker in workers:
                worker.stop()
    found = secrets_written(db, output_dir, tuple(secrets))
    assert not found, f"{label}: this module wrote secrets: {', '.join(found)}"


def delivered(db: Engine, receiver: str) -> int:
    with db.connect() as conn:
        query = text("SELECT count(*) FROM ops_notifications WHERE receiver = :r AND status = 'delivered'")
        return int(conn.execute(query, {"r": receiver}).scalar() or 0)


def dead_letters(db: Engine, receiver: str) -> list[tuple[str, int]]:
    """(reason, attempts) of the receiver's dead letters."""
    with db.connect() as conn:
        rows = conn.execute(text("SELECT reason, attempts FROM ops_dead_letters WHERE receiver = :r"), {"r": receiver})
        return [(r.reason, r.attempts) for r in rows]


def assert_none_stored(db: Engine, secrets: Sequence[str]) -> None:
    """Nothing stored now (payloads, errors, dead letters) quotes a secret: checked after each test,
    before clean_tables empties the tables for the next."""
    stored = stored_text(db)
    leaked = [i for i, secret in enumerate(secrets) if secret in stored]
    assert not leaked, f"secrets #{leaked} stored by this test (an error, a payload or a dead letter)"
