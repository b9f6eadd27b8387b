"""The silences in force, as the alert router of one process sees them.

Asking PostgreSQL for every alert would cost a round trip per alert; relops instead keeps the
active silences and maintenance windows per process and reloads them when they are older than
``max_age_s`` (1 s in workers). So a silence takes effect within a second of being created, and
a storm of alerts costs one small query a second, not one per alert. Redis is not involved: a
Redis outage cannot unmute anything. (A version key in Redis would make changes visible at once,
but would cost the Redis round trip per alert this avoids.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from relops.config import RelopsConfig
from relops.silencing.maintenance import active_maintenance
from relops.silencing.silences import SilenceIndex
from relops.store.silences import active_silence_rows, as_silence


class ActiveSilences:
    def __init__(self, max_age_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._index: SilenceIndex | None = None
        self._loaded_at = float("-inf")

    def index(self, conn: Connection, config: RelopsConfig, now: datetime) -> SilenceIndex:
        """The silences not over at ``now`` (loaded again when the cached ones are too old)."""
        with self._lock:
            fresh = self._index is not None and self._clock() - self._loaded_at < self.max_age_s
            if fresh:
                assert self._index is not None
                return self._index
        silences = [as_silence(row) for row in active_silence_rows(conn, now)]
        index = SilenceIndex([*silences, *active_maintenance(config.maintenance, now)])
        with self._lock:
            self._index, self._loaded_at = index, self._clock()
        return index

    def forget(self) -> None:
        with self._lock:
            self._index, self._loaded_at = None, float("-inf")
