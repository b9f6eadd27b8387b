"""Login throttling, shared by every `relops web` process through Redis.

Failed sign-ins are counted per client address and per user name in fixed windows; once either
count reaches its limit, sign-ins from that address or for that name are refused with 429 until
the window ends. A success clears both counts. Redis unreachable: sign-ins are not throttled, and
that is logged (a locked-out operator is worse than an unthrottled one: the tokens are 256-bit).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from redis import Redis

from relops import redis_keys
from relops.logs import log_event
from relops.redis_state import REDIS_FAULTS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ThrottleLimits:
    window_s: int = 900
    #: Failures from one address in a window (a shared office NAT gets more room than one name).
    per_address: int = 20
    #: Failures for one user name in a window.
    per_name: int = 5


def _keys(address: str, name: str) -> list[str]:
    # Names are whatever an attacker types: hashed, so a key stays short and printable.
    digest = hashlib.sha256(name.encode("utf-8", "replace")).hexdigest()[:32]
    return [redis_keys.login_failures("address", address), redis_keys.login_failures("name", digest)]


class LoginThrottle:
    def __init__(self, client: Redis, limits: ThrottleLimits = ThrottleLimits()) -> None:
        self.client = client
        self.limits = limits

    def retry_after_s(self, address: str, name: str) -> int | None:
        """Seconds until sign-ins from ``address`` or for ``name`` are accepted again; None: now."""
        keys = _keys(address, name)
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in keys:
                pipe.get(key)
                pipe.ttl(key)
            by_address, address_ttl, by_name, name_ttl = pipe.execute()
        except REDIS_FAULTS as exc:
            log_event(
                logger, logging.WARNING, "login.throttle_skipped", reason="redis unreachable", error=type(exc).__name__
            )
            return None
        waits = [
            max(int(ttl), 1)
            for count, limit, ttl in (
                (by_address, self.limits.per_address, address_ttl),
                (by_name, self.limits.per_name, name_ttl),
            )
            if count is not None and int(count) >= limit
        ]
        return max(waits) if waits else None

    def failed(self, address: str, name: str) -> None:
        try:
            pipe = self.client.pipeline(transaction=True)
            for key in _keys(address, name):
                # The window starts at the first failure; INCR keeps the expiry SET gave the key.
                pipe.set(key, 0, ex=self.limits.window_s, nx=True)
                pipe.incr(key)
            pipe.execute()
        except REDIS_FAULTS as exc:
            log_event(
                logger,
                logging.WARNING,
                "login.failure_not_counted",
                reason="redis unreachable",
                error=type(exc).__name__,
            )

    def succeeded(self, address: str, name: str) -> None:
        try:
            self.client.delete(*_keys(address, name))
        except REDIS_FAULTS as exc:
            log_event(
                logger,
                logging.WARNING,
                "login.throttle_not_cleared",
                reason="redis unreachable",
                error=type(exc).__name__,
            )
