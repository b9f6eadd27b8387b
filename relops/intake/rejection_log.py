"""The intake's rejections, recorded like the tasks' (a log line each and a row in
ops_rejected_inputs) without a database write on the request path.

Rows are queued and written by a thread, many per transaction. Refusals for a rate limit are
summed per key and written as one row per key per second: a client hammering past its limit must
not turn into a row per request. A full queue (PostgreSQL down for long) drops rows, counted and
logged, never silently.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from relops.errors import Rejection
from relops.logs import log_event
from relops.store.rejections import record_rejection_rows

logger = logging.getLogger(__name__)
MAX_QUEUED = 10_000


class RejectionLog:
    def __init__(self, engine: Engine, *, flush_s: float = 1.0) -> None:
        self._engine = engine
        self.flush_s = flush_s
        self._queue: queue.Queue[tuple[str, str | None, Rejection]] = queue.Queue(MAX_QUEUED)
        self._rate_limited: Counter[str] = Counter()
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

    def add(self, task: str, reference: str | None, rejection: Rejection, **log_fields: object) -> None:
        log_event(
            logger,
            logging.WARNING,
            "intake.rejected",
            task=task,
            reference=reference,
            field=rejection.field,
            reason=rejection.reason,
            item=rejection.item_index,
            **log_fields,
        )
        try:
            self._queue.put_nowait((task, reference, rejection))
        except queue.Full:
            self._dropped(1)

    def rate_limited(self, key_name: str) -> None:
        with self._lock:
            self._rate_limited[key_name] += 1

    def flush(self) -> None:
        rows: list[tuple[str, str | None, Rejection]] = []
        while len(rows) < MAX_QUEUED:
            try:
                rows.append(self._queue.get_nowait())
            except queue.Empty:
                break
        with self._lock:
            limited, self._rate_limited = self._rate_limited, Counter()
        for name, count in limited.items():
            reason = f"over its rate limit: {count} request(s) refused with 429"
            log_event(logger, logging.WARNING, "intake.rate_limited", key=name, refused=count)
            rows.append(("intake", name, Rejection(None, "key", reason, f"{count} requests")))
        if not rows:
            return
        try:
            with self._engine.begin() as conn:
                record_rejection_rows(conn, rows)
        except SQLAlchemyError as exc:
            self._dropped(len(rows), error=type(exc).__name__)
            return
        self.recorded += len(rows)

    def _dropped(self, count: int, error: str | None = None) -> None:
        self.dropped += count
        log_event(
            logger,
            logging.ERROR,
            "intake.rejections_unrecorded",
            rows=count,
            total_unrecorded=self.dropped,
            error=error,
        )

    def _run(self) -> None:
        while not self._stop.wait(self.flush_s):
            started = time.monotonic()
            self.flush()
            if time.monotonic() - started > self.flush_s:
                log_event(
                    logger, logging.WARNING, "intake.rejections_slow", seconds=round(time.monotonic() - started, 2)
                )
