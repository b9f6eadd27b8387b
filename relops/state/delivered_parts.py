"""Which of a receiver's destinations took a message, in Redis, shared by every worker process: an
Apprise receiver's retry after a partial send goes only to the URLs that did not take it, whichever
process picks the retry up (relops.channels.base.DeliveredParts).

One set per message and receiver (relops.redis_keys.delivered_parts) holds the digests of the
destinations that took it; each is added the moment its destination answered, with the set's expiry
renewed in the same transaction, and the set is deleted once every destination took the message.

Fails open: when Redis cannot be reached an attempt sends to every destination not known to have
taken the message (a duplicate at one of them, rather than a page lost), and the fault is logged.
"""

from __future__ import annotations

import logging

import redis
from relops_client.logs import log_event
from relops_client.redis_scripts import REDIS_FAULTS

from relops import redis_keys

logger = logging.getLogger(__name__)


class RedisDeliveredParts:
    """The record of one message at one receiver, kept ``ttl_s`` after its last change."""

    def __init__(self, client: redis.Redis, receiver: str, message_key: str, ttl_s: int) -> None:
        self._client = client
        self._receiver = receiver
        self._message_key = message_key
        self._key = redis_keys.delivered_parts(receiver, message_key)
        self._ttl_s = ttl_s

    def _fault(self, event: str, exc: Exception, reason: str) -> None:
        log_event(
            logger,
            logging.WARNING,
            event,
            receiver=self._receiver,
            message_key=self._message_key,
            error=type(exc).__name__,
            reason=reason,
        )

    def taken(self) -> frozenset[str]:
        try:
            members = self._client.smembers(self._key)
        except REDIS_FAULTS as exc:
            self._fault("notify.parts_unread", exc, "redis unreachable, sending to every destination")
            return frozenset()
        return frozenset(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    def took(self, part: str) -> None:
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.sadd(self._key, part)
                pipe.expire(self._key, self._ttl_s)
                pipe.execute()
        except REDIS_FAULTS as exc:
            self._fault("notify.part_unrecorded", exc, "redis unreachable, a retry may send there again")

    def finished(self) -> None:
        try:
            self._client.delete(self._key)
        except REDIS_FAULTS as exc:
            self._fault("notify.parts_kept", exc, "redis unreachable, the record expires on its own")
