"""What became of the spans the intake took: counted for a flow, unmatched (no flow takes them:
dropped, never an error) or refused (told to the sender in partial_success). Counted in memory on
the request path and logged as one ``event=intake.otlp_spans`` line a minute while spans arrive, so
a service whose spans all go unmatched (a misspelt service.name) shows in the log."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from relops_client.logs import log_event

from relops.slo.span_mapping import SpanTally

logger = logging.getLogger(__name__)


class SpanTotals:
    def __init__(self, *, log_every_s: float = 60.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.log_every_s = log_every_s
        self._monotonic = monotonic
        self._since = monotonic()
        self.exports = self.spans = self.counted = self.unmatched = self.refused = 0

    def add(self, tally: SpanTally) -> None:
        """One accepted export's spans; logs the totals since the last line once a minute has passed."""
        self.exports += 1
        self.spans += tally.spans
        self.counted += tally.counted
        self.unmatched += tally.unmatched
        self.refused += tally.refused
        now = self._monotonic()
        if now - self._since >= self.log_every_s:
            log_event(
                logger,
                logging.INFO,
                "intake.otlp_spans",
                exports=self.exports,
                spans=self.spans,
                counted=self.counted,
                unmatched=self.unmatched,
                refused=self.refused,
                over_s=round(now - self._since),
            )
            self._since = now
            self.exports = self.spans = self.counted = self.unmatched = self.refused = 0
