"""Throwaway RabbitMQ vhosts for test runs and benchmarks, made with ``rabbitmqctl``.

Each run gets a vhost of its own and a user that may use only that vhost, so two runs on one machine
(a developer's and CI's) never see each other's queues or messages, and deleting the vhost removes
everything the run left. ``rabbitmqctl`` must reach the local node: it runs as root or as the
rabbitmq user (it needs the node's Erlang cookie). The management plugin is not needed.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

from relops.errors import RelopsError
from relops.localdev.local_servers import rabbitmq_problem
from relops.redaction import mask_password

RABBITMQCTL_TIMEOUT_S = 60.0
#: Where Debian's package installs it, for a PATH without the sbin folders.
_SBIN = (Path("/usr/sbin/rabbitmqctl"), Path("/usr/local/sbin/rabbitmqctl"))


def rabbitmqctl_path() -> str:
    found = shutil.which("rabbitmqctl") or next((str(p) for p in _SBIN if p.exists()), None)
    if found is None:
        raise RelopsError(
            "rabbitmqctl is not installed: the RabbitMQ tests make a vhost per run with it "
            "(Debian/Ubuntu: apt-get install rabbitmq-server, which also runs the broker on 127.0.0.1:5672)"
        )
    return found


def rabbitmqctl(*args: str, stdin: str | None = None) -> str:
    """Run ``rabbitmqctl ARGS`` quietly; its output, or RelopsError with what it said."""
    argv = [rabbitmqctl_path(), "-q", *args]
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=RABBITMQCTL_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise RelopsError(f"rabbitmqctl {args[0]} did not finish within {RABBITMQCTL_TIMEOUT_S:.0f}s") from None
    if done.returncode != 0:
        said = " ".join((done.stderr or done.stdout).split())[:500]
        raise RelopsError(
            f"rabbitmqctl {args[0]} failed (exit {done.returncode}): {said}. It must reach the local "
            "RabbitMQ node: run as root or as the rabbitmq user (the node's Erlang cookie), with the node up"
        )
    return done.stdout


@dataclass(frozen=True)
class ScratchVhost:
    """A vhost and the user that may use it; ``url`` is the broker URL for both."""

    vhost: str
    user: str
    url: str

    def ready(self, *queues: str) -> int:
        """Messages ready in ``queues`` (a queue that does not exist holds none), read over AMQP:
        exact at once, where rabbitmqctl's counts for quorum queues lag by seconds (they come from
        statistics the queues emit every few seconds)."""
        return ready_messages(self.url, queues)


def ready_messages(url: str, queues: Iterable[str]) -> int:
    """Messages ready in ``queues`` on the RabbitMQ at ``url`` (passive declares; a missing queue: 0)."""
    from kombu import Connection

    total = 0
    with Connection(url, connect_timeout=5) as connection:
        for queue in queues:
            channel = connection.channel()  # a passive declare of a missing queue closes its channel
            try:
                total += int(channel.queue_declare(queue=queue, passive=True).message_count)
            except connection.channel_errors:
                continue
            finally:
                with contextlib.suppress(Exception):
                    channel.close()
    return total


@contextmanager
def scratch_vhost(base_url: str, name: str, password: str) -> Iterator[ScratchVhost]:
    """A fresh vhost ``name`` on the RabbitMQ at ``base_url`` (amqp://user:pass@host:port, whose node
    rabbitmqctl manages) and a user ``name`` with ``password`` allowed only there; both deleted after.

    The password goes to rabbitmqctl on its standard input, never on a command line. ``name`` must be
    unique to the run (callers put the run id in it): add_vhost would quietly reuse a vhost that exists.
    Each rabbitmqctl call costs about a second, so this makes as few as it can."""
    parts = urlsplit(base_url)
    problem = rabbitmq_problem(base_url)
    if problem is not None:
        raise RelopsError(
            f"RabbitMQ at {mask_password(base_url)} is not usable ({problem}): the RabbitMQ tests need it "
            "running (Debian: apt-get install rabbitmq-server; or point RELOPS_TEST_AMQP_URL at one)"
        )
    rabbitmqctl("add_vhost", name)
    try:
        rabbitmqctl("add_user", name, stdin=password)
        rabbitmqctl("set_permissions", "-p", name, name, ".*", ".*", ".*")
        netloc = f"{quote(name, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port or 5672}"
        yield ScratchVhost(name, name, f"{parts.scheme}://{netloc}/{quote(name, safe='')}")
    finally:
        rabbitmqctl("delete_vhost", name)
        with contextlib.suppress(RelopsError):  # add_user itself may have been what failed
            rabbitmqctl("delete_user", name)
