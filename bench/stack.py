"""A throwaway relops stack for one benchmark: its own database, Redis index, config and workers."""

from __future__ import annotations

import os
import secrets
import statistics
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from celery import Celery
from sqlalchemy import Engine, create_engine

from relops.localdev.sink import HttpSink
from tests.support.celery_process import CeleryProcess, start_worker
from tests.support.rabbitmq import scratch_vhost
from tests.support.scratch import claimed_redis_db, scratch_database

BASE_REDIS_URL = os.environ.get("RELOPS_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
BASE_PG_URL = os.environ.get("RELOPS_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
BASE_AMQP_URL = os.environ.get("RELOPS_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")
RESULTS_DIR = Path(__file__).parent / "results"
#: bench.naive_tasks' task that only counts itself (in this Redis key): what a message costs Celery.
COUNT_ONLY = "bench.count_only"
COUNT_ONLY_KEY = "bench:count_only"


@dataclass
class BenchStack:
    env: dict[str, str]
    db: Engine
    producer: Celery
    workdir: Path
    _exit: ExitStack

    def worker(
        self, name: str, queues: str, concurrency: int = 2, include: str | None = None, extra_args: tuple[str, ...] = ()
    ) -> CeleryProcess:
        extra = [*(["--include", include] if include else []), *extra_args]
        process = start_worker(self.env, self.workdir / f"{name}.log", name, queues, concurrency, extra)
        self._exit.callback(process.stop)
        return process

    def beat(self) -> CeleryProcess:
        """Celery beat with the stack's config (its tick interval), stopped with the stack."""
        argv = ["beat", f"--schedule={self.workdir / 'beat-schedule'}", "--loglevel=INFO"]
        process = CeleryProcess(argv, self.env, self.workdir / "beat.log")
        self._exit.callback(process.stop)
        return process


def channel_env(webhook: HttpSink, email: HttpSink, label: str) -> dict[str, str]:
    """The environment that points both alert channels at local receivers."""
    return {
        "MONITORING_ALERT_WEBHOOK_URL": f"{webhook.url}/services/T/B/{label}",
        "RESEND_API_KEY": f"re_{label}",
        "RESEND_API_URL": email.url,
        "ADMIN_EMAILS": "oncall@example.com",
    }


def flows_config(flows: int, chunk_size: int, objective: str = "99.9", extra: str = "") -> str:
    # A tick a minute: each tick's snapshots are new rows, which the benches count to time it.
    lines = [f"[evaluation]\nchunk_size = {chunk_size}\ntick_interval_s = 60\n", extra]
    lines += [f'[[flows]]\nname = "bench-{i:04d}"\nobjective_percent = {objective}\n' for i in range(flows)]
    return "\n".join(lines)


@contextmanager
def _broker(name: str, run: str, redis_url: str) -> Iterator[str]:
    """The run's broker URL: its Redis index, or a RabbitMQ vhost of its own (dropped afterwards)."""
    if name == "redis":
        yield redis_url
        return
    with scratch_vhost(BASE_AMQP_URL, f"relops-bench-{run}", f"bench-{secrets.token_urlsafe(12)}") as vhost:
        yield vhost.url


@contextmanager
def bench_stack(
    config_text: str, extra_env: dict[str, str] | None = None, broker: Literal["redis", "rabbitmq"] = "redis"
) -> Iterator[BenchStack]:
    run = uuid.uuid4().hex[:8]
    RESULTS_DIR.mkdir(exist_ok=True)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="relops-bench-", dir=RESULTS_DIR)))
        config_path = workdir / "relops.toml"
        config_path.write_text(config_text)
        database_url = stack.enter_context(scratch_database(BASE_PG_URL, f"relops_bench_{run}"))
        redis_url = stack.enter_context(claimed_redis_db(BASE_REDIS_URL, f"bench-{run}"))
        broker_url = stack.enter_context(_broker(broker, run, redis_url))
        env = {
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": broker_url,
            "DATABASE_URL": database_url,
            "RELOPS_CONFIG": str(config_path),
            # relops' default: servers keep their access log, workers their INFO lines, as every
            # recorded figure had them (until RELOPS_LOG_LEVEL took effect, "WARNING" here did nothing).
            "RELOPS_LOG_LEVEL": "INFO",
            **(extra_env or {}),
        }
        # Celery lets CELERY_BROKER_URL in the environment (make exports one) override broker=.
        stack.enter_context(_environ(env))
        db = create_engine(database_url)
        stack.callback(db.dispose)
        producer = Celery("bench", broker=broker_url, set_as_current=False)
        producer.conf.update(task_serializer="json", accept_content=["json"])
        stack.callback(producer.close)
        yield BenchStack(env=env, db=db, producer=producer, workdir=workdir, _exit=stack)


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def median_s(samples: list[float]) -> float:
    return statistics.median(samples)
