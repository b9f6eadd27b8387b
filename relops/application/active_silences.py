"""The silences in force, as the alert router of one process sees them.

Asking PostgreSQL for every alert would cost a round trip per alert; relops instead keeps the
active silences and maintenance windows per process and reloads them when they are older than
``max_age_s`` (1 s in workers). So a silence takes effect within a second of being created, and
a storm of alerts costs one small query a second, not one per alert. Redis is not involved: a
Redis outage cannot unmute anything. (A version key in Redis would make changes visible at once,
but would cost the Redis round trip per alert this avoids.)

Asking fails open: an error in matching an alert against the silences (none is expected: RE2
matches in linear time and stored matchers it refuses match nothing) routes the alert unmuted,
counted and logged, rather than failing the task and dropping the page. Loading them from
PostgreSQL is not guarded: that error is the task's to retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime

from relops_client.logs import log_event
from sqlalchemy import Connection

from relops.config import RelopsConfig
from relops.silencing.maintenance import active_maintenance
from relops.silencing.silences import Silence, SilenceIndex
from relops.store.silences import active_silence_rows, as_silence

logger = logging.getLogger(__name__)


class ActiveSilences:
    def __init__(self, max_age_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._index: SilenceIndex | None = None
        self._loaded_at = float("-inf")
        #: Alerts routed unmuted because matching them against the silences failed, by error type.
        self.failures: Counter[str] = Counter()
        self._reported_refused: set[str] = set()

    def index(self, conn: Connection, config: RelopsConfig, now: datetime) -> SilenceIndex:
        """The silences not over at ``now`` (loaded again when the cached ones are too old)."""
        with self._lock:
            fresh = self._index is not None and self._clock() - self._loaded_at < self.max_age_s
            if fresh:
                assert self._index is not None
                return self._index
        silences = [as_silence(row) for row in active_silence_rows(conn, now)]
        self._report_refused(silences)
        index = SilenceIndex([*silences, *active_maintenance(config.maintenance, now)])
        with self._lock:
            self._index, self._loaded_at = index, self._clock()
        return index

    def muting(
        self, conn: Connection, config: RelopsConfig, labels: Mapping[str, str], now: datetime
    ) -> Silence | None:
        """The silence that mutes an alert with ``labels`` at ``now``, or None; None as well when
        matching fails (fail open: the alert pages), which is counted and logged."""
        index = self.index(conn, config, now)
        try:
            return index.first_match(labels, now)
        except Exception as exc:  # any fault at all: a page must not be dropped over a silence
            self.failures[type(exc).__name__] += 1
            log_event(
                logger,
                logging.ERROR,
                "silences.unevaluated",
                error=type(exc).__name__,
                detail=str(exc)[:200],
                outcome="routed unmuted",
                failures=sum(self.failures.values()),
            )
            return None

    def _report_refused(self, silences: list[Silence]) -> None:
        """Log once per process each stored silence with a matcher the engine refuses (it mutes nothing)."""
        for silence in silences:
            refused = next((m.refused for m in silence.matchers if m.refused), "")
            if refused and silence.key not in self._reported_refused:
                self._reported_refused.add(silence.key)
                log_event(
                    logger,
                    logging.ERROR,
                    "silence.unusable",
                    silence=silence.key,
                    reason=refused,
                    outcome="mutes nothing; expire it and add it again in RE2 syntax",
                )

    def forget(self) -> None:
        with self._lock:
            self._index, self._loaded_at = None, float("-inf")
