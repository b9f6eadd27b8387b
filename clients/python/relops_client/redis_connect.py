"""Connecting to relops' Redis from a URL: a plain ``redis://``, ``rediss://`` or ``unix://`` URL, or
a set of Redis Sentinels that name the current primary.

The Sentinel form is kombu's (Celery's documented broker form), so one value serves REDIS_URL and
CELERY_BROKER_URL alike::

    sentinel://[[user]:password@]host[:port][/db][;sentinel://host[:port][/db]...]

Each ``;``-separated entry is one Sentinel (port 26379 when omitted). The user, password and
database index are the primary's (as kombu reads them); they may be written on one entry or
repeated on each, but two entries may not disagree. The primary's name as the Sentinels know it
comes from REDIS_SENTINEL_MASTER (default ``mymaster``), and a password the Sentinels themselves
ask for from REDIS_SENTINEL_PASSWORD. relops.settings validates these once at a relops process's
start with the same parser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import redis
from redis.sentinel import Sentinel

from relops_client.environment import sentinel_master, sentinel_password

SENTINEL_SCHEME = "sentinel"
DEFAULT_SENTINEL_PORT = 26379
#: How long asking a Sentinel for the primary may take: a dead Sentinel must not stall a call for
#: longer than a dead Redis would (relops' clients use 2 s for Redis itself).
SENTINEL_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class SentinelUrl:
    """A parsed ``sentinel://`` URL: where the Sentinels listen, and how to use the primary."""

    sentinels: tuple[tuple[str, int], ...]
    db: int = 0
    username: str | None = None
    password: str | None = None

    def kombu_url(self) -> str:
        """The URL kombu's Sentinel transport reads, with the credentials and database on every
        entry: kombu fails over between entries by re-reading the next one alone (Connection.switch),
        and an entry without them would drop the password and the database index."""
        userinfo = ""
        if self.username or self.password:
            userinfo = f"{quote(self.username or '', safe='')}:{quote(self.password or '', safe='')}@"
        return ";".join(
            f"{SENTINEL_SCHEME}://{userinfo}{_host(host)}:{port}/{self.db}" for host, port in self.sentinels
        )


def is_sentinel_url(url: str) -> bool:
    return url.strip().lower().startswith(f"{SENTINEL_SCHEME}://")


def _host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _agreed(found: set[Any], what: str) -> Any:
    if len(found) > 1:
        raise ValueError(f"the Sentinel entries disagree on the {what}; write it once, or the same on each")
    return next(iter(found), None)


def parse_sentinel_url(url: str) -> SentinelUrl:
    """The Sentinels and the primary's credentials and database of a ``sentinel://`` URL; ValueError
    saying what is wrong (never quoting the URL, which may hold a password)."""
    sentinels: list[tuple[str, int]] = []
    dbs: set[int] = set()
    users: set[str] = set()
    passwords: set[str] = set()
    for index, entry in enumerate(url.strip().split(";"), start=1):
        try:
            parts = urlsplit(entry.strip())
            port = parts.port or DEFAULT_SENTINEL_PORT
        except ValueError:
            raise ValueError(f"Sentinel entry {index} is not a host:port URL") from None
        if parts.scheme.lower() != SENTINEL_SCHEME:
            raise ValueError(f"Sentinel entry {index} must start with sentinel:// (entries are separated by ;)")
        if not parts.hostname:
            raise ValueError(f"Sentinel entry {index} names no host")
        if parts.query or parts.fragment:
            raise ValueError(f"Sentinel entry {index} has a query or fragment; relops reads none")
        path = parts.path.strip("/")
        if path:
            if not path.isdigit():
                raise ValueError(f"Sentinel entry {index}: the path must be a database index (/0), not {path!r}")
            dbs.add(int(path))
        if parts.username:
            users.add(unquote(parts.username))
        if parts.password:
            passwords.add(unquote(parts.password))
        sentinels.append((parts.hostname, port))
    return SentinelUrl(
        sentinels=tuple(sentinels),
        db=_agreed(dbs, "database index") or 0,
        username=_agreed(users, "user name"),
        password=_agreed(passwords, "password"),
    )


def _sentinel_options(sentinel_auth: str | None) -> dict[str, Any]:
    """How to talk to the Sentinels themselves (redis-py and kombu take the same options)."""
    options: dict[str, Any] = {"socket_timeout": SENTINEL_TIMEOUT_S, "socket_connect_timeout": SENTINEL_TIMEOUT_S}
    auth = sentinel_auth if sentinel_auth is not None else sentinel_password()
    if auth:
        options["password"] = auth
    return options


def redis_from_url(
    url: str,
    *,
    master_name: str | None = None,
    sentinel_auth: str | None = None,
    **kwargs: Any,
) -> redis.Redis:
    """A client of the Redis ``url`` names. For a ``sentinel://`` URL, a client of the current
    primary of ``master_name`` (default REDIS_SENTINEL_MASTER): each new connection asks the
    Sentinels where the primary is, so after a failover the client reconnects to the promoted
    replica by itself, and one still talking to a demoted primary gets a ConnectionError, not a
    write refused. ``sentinel_auth`` is the Sentinels' own password (default REDIS_SENTINEL_PASSWORD).
    ``kwargs`` are redis-py connection options (timeouts), for the primary and the Sentinels both."""
    if not is_sentinel_url(url):
        return redis.Redis.from_url(url, **kwargs)
    parsed = parse_sentinel_url(url)
    manager = Sentinel(list(parsed.sentinels), sentinel_kwargs=_sentinel_options(sentinel_auth))
    return manager.master_for(
        master_name or sentinel_master(),
        db=parsed.db,
        username=parsed.username,
        password=parsed.password,
        **kwargs,
    )


def broker_transport_options(
    url: str, *, master_name: str | None = None, sentinel_auth: str | None = None
) -> dict[str, Any]:
    """What kombu's transport options need for the broker ``url``: nothing for a plain URL; the
    primary's name and the Sentinels' own connection options for a ``sentinel://`` one."""
    if not is_sentinel_url(url):
        return {}
    return {"master_name": master_name or sentinel_master(), "sentinel_kwargs": _sentinel_options(sentinel_auth)}


def broker_kombu_url(url: str) -> str:
    """``url`` as kombu should read it (a ``sentinel://`` URL with its credentials on every entry)."""
    return parse_sentinel_url(url).kombu_url() if is_sentinel_url(url) else url
