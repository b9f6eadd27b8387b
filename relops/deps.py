"""What task logic runs with, passed in explicitly instead of read from process globals.

A worker builds one per task from its process's settings (tasks.base.worker_deps); tests build one
from their own database, Redis index, config and local receivers, and call the same logic
in-process (tests/integration/inprocess.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from redis import Redis
from sqlalchemy import Engine

from relops.alerting.routes import Route, cached_tree
from relops.breakers.client import BreakerRegistry
from relops.channels.base import Channel
from relops.channels.registry import channel_classes
from relops.config import RelopsConfig
from relops.silencing.cache import ActiveSilences
from relops.timeutil import utcnow


class Publisher(Protocol):
    """Sends one task message by name. Raises on a broker fault, so a caller inside a database
    transaction rolls back with it (publish before commit: never a commit without its message)."""

    def __call__(self, task: str, kwargs: Mapping[str, Any], queue: str, countdown_s: float = 0.0) -> None: ...


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
    #: The config's route tree, inheritance resolved (follows ``config``, also through dataclasses.replace).
    routes: Route = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "routes", cached_tree(self.config, list(channel_classes())))
