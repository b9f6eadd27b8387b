"""The intake's refusals, recorded like the tasks' rejections (a log line and a row in
ops_rejected_inputs) without a database write on the request path, and without a row or a line per
request: whoever floods the intake with bad requests, keyed or not, must not flood its log or its
database.

Refusals are tallied per (status, task, key name or "anonymous") and written by a thread every
second: one row and one ``event=intake.rejected`` line per tally, with the count and the first
refusal's field, reason and excerpt. A lone refusal's row reads exactly as it always did. Refusals
for a key's rate limit (429) are summed per key, one row per key per second. When PostgreSQL is
down a second's rows are dropped, counted and logged in one line.

The same thread, in the same transaction, adds the second's request totals (every answer, accepted
or refused: relops.intake.request_totals) to ops_intake_totals; those are kept for the next second
when the write fails, not dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass

from relops_client.logs import log_event
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from relops.errors import Rejection
from relops.intake.request_totals import RequestTotals
from relops.store.intake_totals import add_intake_totals
from relops.store.rejections import record_rejection_rows

logger = logging.getLogger(__name__)
#: What a refusal's tally calls a request that came with no key the intake knows.
ANONYMOUS = "anonymous"


#: Refused items of requests otherwise accepted (an Alertmanager notification's alerts relops cannot
#: take) recorded one by one per second at most: past it they are counted in one row per endpoint and
#: key, so a sender that keeps sending bad alerts costs a few rows and lines a second.
MAX_ITEM_ROWS = 50


@dataclass(slots=True)
class _Tally:
    """A second's refusals of one (status, task, key): the first as it came, and how many."""

    reference: str | None
    first: Rejection
    count: int = 0
    #: Of them, answered 429 because their address was over its refusal rate.
    throttled: int = 0


Row = tuple[str, str | None, Rejection]


class RejectionLog:
    def __init__(self, engine: Engine, *, flush_s: float = 1.0, totals: RequestTotals | None = None) -> None:
        self._engine = engine
        self.flush_s = flush_s
        #: Every answer's (endpoint, status), written with the rejections.
        self.totals = totals if totals is not None else RequestTotals()
        self._tallies: dict[tuple[int, str, str], _Tally] = {}
        self._rate_limited: Counter[str] = Counter()
        self._items: list[tuple[str, str, str | None, Rejection]] = []
        self._items_over: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.recorded = 0
        self.dropped = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="relops-intake-rejections", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def refused(
        self,
        task: str,
        status: int,
        key: str | None,
        reference: str | None,
        rejection: Rejection,
        *,
        throttled: bool = False,
    ) -> None:
        """One refusal answered ``status`` (or 429 for its address, when ``throttled``)."""
        slot = (status, task, ANONYMOUS if key is None else key)
        with self._lock:
            tally = self._tallies.get(slot)
            if tally is None:
                tally = self._tallies[slot] = _Tally(reference, rejection)
            tally.count += 1
            tally.throttled += throttled

    def items_refused(self, task: str, key: str, reference: str | None, rejections: list[Rejection]) -> None:
        """Items refused from a request that was otherwise accepted, each named (its index, field and
        reason) in a row of its own, up to MAX_ITEM_ROWS a second."""
        with self._lock:
            room = max(MAX_ITEM_ROWS - len(self._items), 0)
            self._items.extend((task, key, reference, rejection) for rejection in rejections[:room])
            if len(rejections) > room:
                self._items_over[(task, key)] += len(rejections) - room

    def rate_limited(self, key_name: str) -> None:
        with self._lock:
            self._rate_limited[key_name] += 1

    def flush(self) -> None:
        with self._lock:
            tallies, self._tallies = self._tallies, {}
            limited, self._rate_limited = self._rate_limited, Counter()
            items, self._items = self._items, []
            items_over, self._items_over = self._items_over, Counter()
        rows = [self._tally_row(slot, tally) for slot, tally in tallies.items()]
        rows += [self._item_row(*item) for item in items]
        for (task, key), count in items_over.items():
            reason = f"{count} more items refused within a second, not recorded one by one"
            log_event(logger, logging.WARNING, "intake.items_rejected", task=task, key=key, refused=count)
            rows.append((task, None, Rejection(None, "items", reason, "")))
        for name, count in limited.items():
            reason = f"over its rate limit: {count} request(s) refused with 429"
            log_event(logger, logging.WARNING, "intake.rate_limited", key=name, refused=count)
            rows.append(("intake", name, Rejection(None, "key", reason, f"{count} requests")))
        counts = self.totals.take()
        if not rows and not counts:
            return
        try:
            with self._engine.begin() as conn:
                if rows:
                    record_rejection_rows(conn, rows)
                add_intake_totals(conn, counts)
        except SQLAlchemyError as exc:
            self.totals.give_back(counts)
            if not rows:
                return  # the totals go with the next second's write; a log line per second would flood
            self.dropped += len(rows)
            log_event(
                logger,
                logging.ERROR,
                "intake.rejections_unrecorded",
                rows=len(rows),
                total_unrecorded=self.dropped,
                error=type(exc).__name__,
            )
            return
        self.recorded += len(rows)

    @staticmethod
    def _item_row(task: str, key: str, reference: str | None, rejection: Rejection) -> Row:
        log_event(
            logger,
            logging.WARNING,
            "intake.item_rejected",
            task=task,
            key=key,
            reference=reference,
            item=rejection.item_index,
            field=rejection.field,
            reason=rejection.reason,
        )
        return task, reference, rejection

    @staticmethod
    def _tally_row(slot: tuple[int, str, str], tally: _Tally) -> Row:
        status, task, key = slot
        first = tally.first
        log_event(
            logger,
            logging.WARNING,
            "intake.rejected",
            status=status,
            task=task,
            key=key,
            refused=tally.count,
            throttled=tally.throttled or None,
            reference=tally.reference,
            field=first.field,
            reason=first.reason,
            item=first.item_index,
        )
        if tally.count == 1 and not tally.throttled:
            return task, tally.reference, first
        throttled = f", {tally.throttled} of them answered 429 for their address" if tally.throttled else ""
        reason = f"{tally.count} requests refused with {status} within a second{throttled}; the first: {first.reason}"
        return task, tally.reference, Rejection(first.item_index, first.field, reason, first.excerpt)

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            started = time.monotonic()
            self.flush()
            if time.monotonic() - started > self.flush_s:
                log_event(
                    logger, logging.WARNING, "intake.rejections_slow", seconds=round(time.monotonic() - started, 2)
                )
