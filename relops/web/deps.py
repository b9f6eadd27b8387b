"""What the dashboard's handlers run with, built once per process and handed to them with ``Depends``.

``build_web_deps`` makes the one ``WebDeps`` of a `relops web` process from its settings (the CLI's
web command; tests build theirs the same way, or replace a part of it); ``create_app`` keeps it on
``app.state.deps``; each handler asks for what it needs with the providers below (``Wired``,
``SignedIn``, ``Acting``), never from module state or ``relops.wiring``'s process globals. A test
of one router sets ``app.state.deps`` itself and overrides ``current_principal`` for the caller that
the access middleware would have identified.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Annotated, Any, cast

from fastapi import Depends, Request
from redis import Redis
from relops_client.breakers import BreakerRegistry
from relops_client.producer import TaskProducer
from sqlalchemy import Engine, create_engine

from relops.application.audit import Actor
from relops.application.incidents import Followers, followers_of
from relops.broker import read_waiting_messages
from relops.channels.registry import build_receivers, queue_names
from relops.config import RelopsConfig
from relops.db import CONNECT_TIMEOUT_S
from relops.settings import Settings
from relops.state.redis_client import redis_client
from relops.timeutil import utcnow
from relops.web.auth import Authenticator, Principal
from relops.web.cached import Cached
from relops.web.throttle import LoginThrottle
from relops.wiring import load_checked_config, producer_publisher

#: A scrape waits at most this long for the broker before it says relops_broker_up 0.
BROKER_READ_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class WebDeps:
    settings: Settings
    #: As the relops_web role: reads the ops tables, changes an incident's status, keeps sessions.
    engine: Engine
    redis: Redis
    config: RelopsConfig
    #: The receivers this process can deliver to: resolving an incident forgets their dedup windows.
    receivers: tuple[str, ...]
    breakers: BreakerRegistry
    authenticator: Authenticator
    throttle: LoginThrottle
    now: Callable[[], datetime] = utcnow
    #: The messages waiting in every relops queue, read from the broker at each scrape of /metrics
    #: (relops.broker.read_waiting_messages); None: not read.
    read_queues: Callable[[], Mapping[str, int]] | None = None
    #: Every flow's budget trends, recomputed at most every RELOPS_WEB_TRENDS_TTL_S (past days change
    #: only with late data, and every open dashboard asks every 30 s).
    budget_trends: Cached[dict[str, Any]] = field(default_factory=Cached)
    #: The receivers that hear an acknowledgement or a resolution made here (PagerDuty).
    followers: Followers = field(default_factory=Followers)


def build_web_deps(settings: Settings) -> WebDeps:
    """The dependencies of a `relops web` process: its database engine (RELOPS_WEB_DATABASE_URL, by
    default DATABASE_URL as relops_web), Redis, the validated config file and what follows from them.
    Connects to nothing yet; an invalid config file raises ConfigError."""
    engine = create_engine(
        settings.web_db_url,
        pool_pre_ping=True,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S},
    )
    client = redis_client(settings.redis_url, settings.redis_sentinel_master, settings.sentinel_auth)
    config = load_checked_config(settings.config_path)
    receivers = build_receivers(settings, config)
    return WebDeps(
        settings=settings,
        engine=engine,
        redis=client,
        config=config,
        receivers=tuple(receivers),
        breakers=BreakerRegistry(config.breaker_settings(), lambda: client),
        authenticator=Authenticator(engine, settings),
        throttle=LoginThrottle(client),
        followers=followers_of(config, producer_publisher(TaskProducer(settings.broker_url))),
        read_queues=partial(
            read_waiting_messages,
            settings.broker_url,
            settings.broker_sentinel_options,
            queue_names(config),
            BROKER_READ_TIMEOUT_S,
        ),
    )


async def web_deps(request: Request) -> WebDeps:
    """The process's dependencies, as create_app stored them."""
    return cast(WebDeps, request.app.state.deps)


async def current_principal(request: Request) -> Principal:
    """Who is asking, as the access middleware identified them before routing."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        raise RuntimeError("no principal: the request did not pass the access middleware")
    return cast(Principal, principal)


def client_address(request: Request) -> str:
    """The client as the trusted proxy reports it (uvicorn applies RELOPS_WEB_TRUSTED_PROXIES)."""
    return request.client.host if request.client else "unknown"


async def current_actor(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Actor:
    """Who an audit row names for this request's change."""
    return Actor(principal.user.name, principal.via, client_address(request))


Wired = Annotated[WebDeps, Depends(web_deps)]
SignedIn = Annotated[Principal, Depends(current_principal)]
Acting = Annotated[Actor, Depends(current_actor)]
