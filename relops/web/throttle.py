"""Login throttling, shared by every `relops web` process through Redis.

Failed sign-ins are counted per client address in fixed windows; once an address reaches the
limit, its sign-ins are refused with 429, unchecked, until the window ends. IPv6 addresses count
per /64, the block one host is routinely given, so rotating through it buys no extra guesses.

Nothing is counted per user name: a count anyone may add to would let anyone lock a user out (a
few wrong tries from anywhere, and the right token is refused), and a correct token must always
get in from an address that is not itself throttled. Guessing a token is hopeless anyway (256
bits); the throttle bounds how much work one address can make the sign-in do. A success does not
clear the count, so a valid token of one's own buys an address no more guesses.

Redis unreachable: sign-ins are not throttled, and that is logged (a locked-out operator is worse
than an unthrottled one).
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass

from redis import Redis
from relops_client.logs import log_event
from relops_client.redis_scripts import REDIS_FAULTS

from relops import redis_keys

logger = logging.getLogger(__name__)
#: The IPv6 prefix counted as one address.
IPV6_PREFIX = 64


@dataclass(frozen=True)
class ThrottleLimits:
    window_s: int = 900
    #: Failures from one address in a window (a shared office NAT gets some room).
    per_address: int = 20


def address_bucket(address: str) -> str:
    """What failures of ``address`` count against: the address, or its /64 for IPv6. Pure."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:100]  # "unknown", a proxy's odd value: counted as given, bounded
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


def _key(address: str) -> str:
    return redis_keys.login_failures("address", address_bucket(address))


class LoginThrottle:
    def __init__(self, client: Redis, limits: ThrottleLimits = ThrottleLimits()) -> None:
        self.client = client
        self.limits = limits

    def retry_after_s(self, address: str) -> int | None:
        """Seconds until sign-ins from ``address`` are accepted again; None: now."""
        key = _key(address)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = pipe.execute()
        except REDIS_FAULTS as exc:
            log_event(
                logger, logging.WARNING, "login.throttle_skipped", reason="redis unreachable", error=type(exc).__name__
            )
            return None
        if count is None or int(count) < self.limits.per_address:
            return None
        return max(int(ttl), 1)

    def failed(self, address: str) -> None:
        try:
            pipe = self.client.pipeline(transaction=True)
            # The window starts at the first failure; INCR keeps the expiry SET gave the key.
            pipe.set(_key(address), 0, ex=self.limits.window_s, nx=True)
            pipe.incr(_key(address))
            pipe.execute()
        except REDIS_FAULTS as exc:
            log_event(
                logger,
                logging.WARNING,
                "login.failure_not_counted",
                reason="redis unreachable",
                error=type(exc).__name__,
            )
