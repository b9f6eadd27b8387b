"""Per-run isolation: each test session gets its own PostgreSQL database, Redis database index and
RabbitMQ vhost.

Two runs on one machine (a developer's and CI's) never see each other's rows, queues or keys.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

# CPython 3.11.7's AST validator miscounts recursion depth when a module is first parsed deep in a
# call stack; hypothesis' plugin imports hypothesis (through pytest's assertion rewriter) at the
# end of a run, deep in pluggy, and the run then dies with "AST constructor recursion depth
# mismatch". Importing it here, at the top level, parses it at a shallow depth.
import hypothesis  # noqa: F401
import pytest

from relops.errors import RelopsError
from tests.support.rabbitmq import ScratchVhost, scratch_vhost
from tests.support.scratch import claimed_redis_db, scratch_database

BASE_REDIS_URL = os.environ.get("RELOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379")
BASE_PG_URL = os.environ.get("RELOPS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432")
#: A RabbitMQ whose node rabbitmqctl on this machine manages (it makes the run's vhosts).
BASE_AMQP_URL = os.environ.get("RELOPS_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")
RUN_ID = uuid.uuid4().hex[:10]
#: The password of this run's RabbitMQ users: random, so that no log or page can quote it by chance
#: (the session's secrets audit looks for it).
RABBITMQ_PASSWORD = f"rmq-{secrets.token_urlsafe(12)}"


@pytest.fixture(scope="session")
def run_id() -> str:
    return RUN_ID


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """The Redis database of this run's relops processes (broker and shared state)."""
    with claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}") as url:
        yield url


@pytest.fixture(scope="session")
def bare_redis_url() -> Iterator[str]:
    """A Redis database no relops worker consumes from, for reading raw messages off a queue."""
    with claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}") as url:
        yield url


@contextmanager
def run_vhost(label: str) -> Iterator[ScratchVhost]:
    """A RabbitMQ vhost of this run's own (``label`` tells its uses apart), deleted afterwards."""
    with ExitStack() as stack:
        try:
            vhost = stack.enter_context(
                scratch_vhost(BASE_AMQP_URL, f"relops-test-{RUN_ID}-{label}", RABBITMQ_PASSWORD)
            )
        except RelopsError as exc:
            # Not a skip: CI has RabbitMQ, and a run that silently left it out would prove nothing.
            pytest.fail(f"this test runs on RabbitMQ, which is not usable here: {exc}", pytrace=False)
        yield vhost


@pytest.fixture(scope="session")
def rabbitmq_vhost() -> Iterator[ScratchVhost]:
    """The RabbitMQ vhost of this run's relops processes on RabbitMQ (conftest.broker), and its user.
    Made only when a test runs on RabbitMQ; if RabbitMQ is not usable here that test fails saying why."""
    with run_vhost("main") as vhost:
        yield vhost


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated to head, dropped at the end."""
    with scratch_database(BASE_PG_URL, f"relops_test_{RUN_ID}") as url:
        yield url


@pytest.fixture(scope="session")
def output_dir() -> Path:
    """Where a test run leaves logs and artefacts worth reading after a failure."""
    path = Path(os.environ.get("RELOPS_TEST_OUTPUT", "test-output")) / RUN_ID
    path.mkdir(parents=True, exist_ok=True)
    return path
