"""The intake's requests per endpoint and answer status, as totals that only go up
(ops_intake_totals, which retention never prunes), for the dashboard's /metrics.

Counted in memory on the request path (a dict increment) and added to the table once a second by
the rejection log's thread, in the transaction that writes the second's rejection rows: no database
write per request. A flush that fails gives its counts back for the next one, so a database outage
delays the totals and loses nothing while the process lives; a crash loses at most the last
second's counts. The totals may miss those, but they never go down.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Final

#: The endpoint label: the outcome batches; cron pings with the key in the Authorization header;
#: cron pings with the key in the URL; Alertmanager's webhook; OTLP traces; Slack's button clicks;
#: PagerDuty's webhooks;
#: anything else (an unknown path or method). A fixed set, so the counters' labels stay bounded
#: whatever paths clients send.
OUTCOMES: Final = "outcomes"
CRON: Final = "cron"
PING: Final = "ping"
ALERTMANAGER: Final = "alertmanager"
OTLP: Final = "otlp"
SLACK: Final = "slack"
PAGERDUTY: Final = "pagerduty"
OTHER: Final = "other"
ENDPOINTS: Final = (OUTCOMES, CRON, PING, ALERTMANAGER, OTLP, SLACK, PAGERDUTY, OTHER)

Counts = Mapping[tuple[str, int], int]


class RequestTotals:
    """Requests counted since the last :meth:`take`, per (endpoint, status)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, int]] = Counter()
        # The event loop counts, the rejection log's thread takes: a swap under a lock.
        self._lock = threading.Lock()

    def count(self, endpoint: str, status: int) -> None:
        with self._lock:
            self._counts[(endpoint, status)] += 1

    def take(self) -> dict[tuple[str, int], int]:
        """What was counted since the last take, and a fresh start."""
        with self._lock:
            taken, self._counts = self._counts, Counter()
        return dict(taken)

    def give_back(self, counts: Counts) -> None:
        """Counts a failed flush could not write: the next flush writes them with its own."""
        with self._lock:
            self._counts.update(counts)
