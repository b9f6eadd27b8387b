"""Scrapes of the dashboard's /metrics, counted per metrics key in one Redis hash shared by every
`relops web` process: a scrape every 15 s would make the audit trail a scrape log, so a key's
creation and revocation are audited and its scrapes only counted. The count starts over if Redis
loses its data; it is exported as a counter, whose resets Prometheus' rate() and increase() absorb.
"""

from __future__ import annotations

import logging

from redis import Redis
from relops_client.logs import log_event
from relops_client.redis_scripts import REDIS_FAULTS

from relops import redis_keys

logger = logging.getLogger(__name__)


def count_scrape(client: Redis, key_name: str) -> dict[str, int]:
    """Count a scrape by ``key_name`` and return every key's count, in one round trip. With Redis
    unreachable the scrape goes on uncounted (and without these counts): metrics must not fail
    because a counter of them cannot be kept."""
    try:
        with client.pipeline(transaction=False) as pipe:
            pipe.hincrby(redis_keys.metrics_scrapes(), key_name, 1)
            pipe.hgetall(redis_keys.metrics_scrapes())
            _, counts = pipe.execute()
    except REDIS_FAULTS as exc:
        log_event(logger, logging.WARNING, "metrics.scrape_uncounted", key=key_name, error=type(exc).__name__)
        return {}
    return {(name.decode() if isinstance(name, bytes) else str(name)): int(value) for name, value in counts.items()}
