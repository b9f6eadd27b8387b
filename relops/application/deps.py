"""What the application's use cases run with, passed in explicitly instead of read from process globals.

A plain value: building one connects nothing. A worker builds one per task from its process's parts
(tasks.base.worker_deps, from relops.wiring); tests build one from their own database, Redis index,
config and local receivers, and call the same use cases in-process (tests/integration/inprocess.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from redis import Redis
from relops_client.breakers import BreakerRegistry
from sqlalchemy import Engine

from relops.alerting.routes import Route, cached_tree
from relops.application.active_silences import ActiveSilences
from relops.channels.base import Channel
from relops.channels.registry import default_receivers
from relops.config import RelopsConfig
from relops.timeutil import utcnow


class Publisher(Protocol):
    """Sends one task message by name. Raises on a broker fault, so a caller inside a database
    transaction rolls back with it (publish before commit: never a commit without its message).
    Only where the task reads nothing the transaction writes: a task that reads the caller's rows is
    published after the commit, or it may run before they are visible (alerting.delivery)."""

    def __call__(self, task: str, kwargs: Mapping[str, Any], queue: str, countdown_s: float = 0.0) -> None: ...


#: (task, kwargs, queue) of one message.
TaskMessage = tuple[str, Mapping[str, Any], str]


class BatchPublisher(Protocol):
    """Sends every message or raises with none assumed sent (as Publisher, for many at once)."""

    def __call__(self, messages: Sequence[TaskMessage]) -> None: ...


@dataclass(frozen=True)
class Deps:
    engine: Engine
    redis: Redis
    config: RelopsConfig
    #: The receivers this process can deliver to, by receiver name.
    receivers: Mapping[str, Channel]
    publish: Publisher
    breakers: BreakerRegistry
    now: Callable[[], datetime] = field(default=utcnow)
    #: The silences in force as this process sees them (workers: reloaded at most every second).
    silences: ActiveSilences = field(default_factory=lambda: ActiveSilences(max_age_s=0))
    #: Sends many messages in one round trip to the broker (workers); None: one by one via ``publish``.
    publish_many: BatchPublisher | None = None

    @property
    def routes(self) -> Route:
        """The config's route tree, inheritance resolved: built once per config (cached_tree), so it
        follows ``config``, also through dataclasses.replace."""
        return cached_tree(self.config, default_receivers())

    def publish_all(self, messages: Sequence[TaskMessage]) -> None:
        """Every message handed to the broker, or an exception (a caller in a transaction rolls back)."""
        if not messages:
            return
        if self.publish_many is None:
            for task, kwargs, queue in messages:
                self.publish(task, kwargs, queue)
        else:
            self.publish_many(messages)
