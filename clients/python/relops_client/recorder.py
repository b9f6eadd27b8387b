"""Client that services embed to report critical-flow outcomes to relops.

Product code calls :meth:`OutcomeRecorder.record` on its hot path, so recording only bumps an
in-memory counter; a background thread ships per-minute aggregates as
``relops.record_flow_outcomes`` tasks. Each batch keeps its batch_id until the broker accepts it,
because relops counts a batch_id once: resending after an ambiguous failure (timeout after the
broker already stored the message) can never double count, while dropping it would lose events.

Usage::

    recorder = OutcomeRecorder(broker_url="redis://broker:6379/0", latency_thresholds_ms={"checkout": 800})
    recorder.record("checkout", ok=True, latency_ms=120.0)
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from relops_client.logs import log_event
from relops_client.names import MAX_ITEMS_PER_BATCH, QUEUE_INGEST, TASK_RECORD_FLOW_OUTCOMES
from relops_client.producer import TaskProducer

logger = logging.getLogger(__name__)

#: Rate limit for errors that could otherwise fire once per record() call.
_LOG_EVERY_S = 60.0

Sender = Callable[[str, list[dict[str, Any]]], None]


@dataclass(frozen=True)
class RecorderStats:
    """A point-in-time copy, so callers can compare two snapshots without racing the flush thread."""

    recorded: int
    sent_batches: int
    send_failures: int
    pending_batches: int
    dropped_events: int
    internal_errors: int
    invalid_records: int


@dataclass
class _Batch:
    batch_id: str
    counts: list[dict[str, Any]]
    events: int


def format_minute(minute: int) -> str:
    """Render minutes since the epoch the way the contract expects (UTC, whole minute, ``Z``).

    Built from the integer minute rather than a datetime so the string can never carry seconds.
    """
    return time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(minute * 60))


class OutcomeRecorder:
    """Counts good/bad outcomes per (flow, minute) in memory and ships them in the background.

    Never raises from :meth:`record`: a reporting library must not break the flow it observes.
    Failures are visible through :attr:`stats` and rate-limited log lines instead.
    """

    def __init__(
        self,
        *,
        broker_url: str,
        flush_interval_s: float = 5.0,
        max_items_per_batch: int = 500,
        max_pending_batches: int = 2000,
        latency_thresholds_ms: Mapping[str, float] | None = None,
        send_timeout_s: float = 3.0,
        start: bool = True,
        sender: Sender | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if flush_interval_s <= 0:
            raise ValueError(f"flush_interval_s must be > 0, got {flush_interval_s!r}")
        if not 1 <= max_items_per_batch <= MAX_ITEMS_PER_BATCH:
            raise ValueError(
                f"max_items_per_batch must be within 1..{MAX_ITEMS_PER_BATCH} (the server rejects "
                f"larger batches), got {max_items_per_batch!r}"
            )
        if max_pending_batches < 1:
            raise ValueError(f"max_pending_batches must be >= 1, got {max_pending_batches!r}")
        if send_timeout_s <= 0:
            raise ValueError(f"send_timeout_s must be > 0, got {send_timeout_s!r}")
        thresholds = dict(latency_thresholds_ms or {})
        for flow, threshold in thresholds.items():
            number = isinstance(threshold, int | float) and not isinstance(threshold, bool)
            if not isinstance(flow, str) or not number:
                raise ValueError(f"latency_thresholds_ms needs str -> number, got {flow!r}: {threshold!r}")

        self._broker_url = broker_url
        self._flush_interval_s = float(flush_interval_s)
        self._max_items_per_batch = max_items_per_batch
        self._max_pending_batches = max_pending_batches
        self._thresholds: dict[str, float] = thresholds
        self._send_timeout_s = float(send_timeout_s)
        self._sender: Sender = sender if sender is not None else self._celery_send
        self._clock = clock

        # Hot-path state, guarded by _lock. Two dicts keyed (flow, minute) keep record() to a single
        # dict update with no per-key allocation after the first event of a minute.
        self._lock = threading.Lock()
        self._good: dict[tuple[str, int], int] = {}
        self._bad: dict[tuple[str, int], int] = {}
        self._recorded = 0

        # Sending state, guarded by _send_lock so a batch is never in flight twice at once.
        self._send_lock = threading.Lock()
        self._pending: collections.deque[_Batch] = collections.deque()
        self._sent_batches = 0
        self._send_failures = 0
        self._dropped_events = 0
        self._outage_started: float | None = None
        self._outage_failures = 0

        self._internal_errors = 0
        self._invalid_records = 0
        self._log_state: dict[str, tuple[float, int]] = {}
        self._producer: TaskProducer | None = None

        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        atexit.register(self._close_at_exit)
        _register_fork_handler(self)
        if start:
            self._start_thread()

    # ------------------------------------------------------------------ hot path

    def record(self, flow: str, ok: bool = True, latency_ms: float | None = None) -> None:
        """Count one outcome; an outcome slower than the flow's latency threshold counts as bad.

        Never raises: a broken reporting call must not turn into a broken checkout.
        """
        try:
            if type(flow) is not str and not isinstance(flow, str):
                self._invalid_records += 1
                self._log_limited(
                    "invalid_flow",
                    logging.WARNING,
                    "client.invalid_record",
                    reason="flow is not a str",
                    flow_type=type(flow).__name__,
                    invalid_records=self._invalid_records,
                )
                return
            if ok and latency_ms is not None:
                threshold = self._thresholds.get(flow)
                if threshold is not None and latency_ms > threshold:
                    ok = False
            key = (flow, int(self._clock()) // 60)
            with self._lock:
                # Picked under the lock: a flush may have swapped the dicts since the check above.
                counts = self._good if ok else self._bad
                counts[key] = counts.get(key, 0) + 1
                self._recorded += 1
        except Exception as exc:
            self._internal_error("record", exc)

    # ------------------------------------------------------------------ public API

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Send everything recorded so far, plus older pending batches; True when nothing is left pending.

        A single send in progress at the deadline may overrun it by up to send_timeout_s, since
        interrupting a publish half-way is what makes delivery ambiguous in the first place.
        """
        try:
            deadline = time.monotonic() + max(0.0, timeout_s)
            if not self._send_lock.acquire(timeout=max(0.0, timeout_s)):
                return False
            try:
                self._cut_batches()
                self._send_pending(deadline)
                return not self._pending
            finally:
                self._send_lock.release()
        except Exception as exc:
            self._internal_error("flush", exc)
            return False

    def close(self, timeout_s: float = 5.0) -> bool:
        """Stop the flush thread and send what is left; True when nothing is left pending.

        Registered with atexit so a service that exits normally does not lose its last interval.
        Like flush(), a send in progress may overrun timeout_s by up to send_timeout_s. Outcomes
        recorded after close() are kept in memory and only leave with an explicit flush().
        """
        deadline = time.monotonic() + max(0.0, timeout_s)
        self._closed = True
        self._stop.set()
        try:
            atexit.unregister(self._close_at_exit)
        except Exception as exc:
            self._internal_error("close", exc)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(max(0.0, deadline - time.monotonic()))
        done = self.flush(max(0.0, deadline - time.monotonic()))
        if not done:
            log_event(
                logger,
                logging.ERROR,
                "client.close_unsent",
                pending_batches=len(self._pending),
                pending_events=sum(batch.events for batch in list(self._pending)),
            )
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close()
            except Exception as exc:
                self._internal_error("close", exc)
        return done

    @property
    def stats(self) -> RecorderStats:
        """Counters for health checks and tests; a copy, so it never changes under the caller."""
        return RecorderStats(
            recorded=self._recorded,
            sent_batches=self._sent_batches,
            send_failures=self._send_failures,
            pending_batches=len(self._pending),
            dropped_events=self._dropped_events,
            internal_errors=self._internal_errors,
            invalid_records=self._invalid_records,
        )

    # ------------------------------------------------------------------ flushing

    def _start_thread(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="relops-outcome-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Flush every interval; an iteration that fails must not end the thread, or counts pile up."""
        while not self._stop.wait(self._flush_interval_s):
            try:
                with self._send_lock:
                    self._cut_batches()
                    self._send_pending(deadline=None)
            except Exception as exc:
                self._internal_error("flush_thread", exc)

    def _cut_batches(self) -> None:
        """Move the live counts into new pending batches; caller holds _send_lock.

        The swap is the only work done under the hot-path lock, so record() never waits on I/O.
        """
        with self._lock:
            good, self._good = self._good, {}
            bad, self._bad = self._bad, {}
        if not good and not bad:
            return
        minute_text: dict[int, str] = {}
        items: list[dict[str, Any]] = []
        events: list[int] = []
        for flow, minute in sorted(good.keys() | bad.keys(), key=lambda key: (key[1], key[0])):
            n_good = good.get((flow, minute), 0)
            n_bad = bad.get((flow, minute), 0)
            try:
                text = minute_text.get(minute)
                if text is None:
                    text = minute_text[minute] = format_minute(minute)
            except Exception as exc:
                # A clock gone mad yields a minute gmtime cannot render; lose that cell, not the batch.
                self._dropped_events += n_good + n_bad
                self._internal_error("format_minute", exc)
                continue
            items.append({"flow": flow, "minute": text, "good": n_good, "bad": n_bad})
            events.append(n_good + n_bad)
        size = self._max_items_per_batch
        for start in range(0, len(items), size):
            self._pending.append(
                _Batch(uuid.uuid4().hex, items[start : start + size], sum(events[start : start + size]))
            )
        self._drop_overflow()

    def _drop_overflow(self) -> None:
        """Bound memory while the broker is down; losing data is logged as an error, never silent."""
        dropped_batches = 0
        dropped_events = 0
        oldest_dropped: str | None = None
        while len(self._pending) > self._max_pending_batches:
            batch = self._pending.popleft()
            oldest_dropped = oldest_dropped or batch.batch_id
            dropped_batches += 1
            dropped_events += batch.events
        if dropped_batches:
            self._dropped_events += dropped_events
            log_event(
                logger,
                logging.ERROR,
                "client.pending_overflow",
                dropped_batches=dropped_batches,
                events_lost=dropped_events,
                events_lost_total=self._dropped_events,
                max_pending_batches=self._max_pending_batches,
                oldest_dropped_batch_id=oldest_dropped,
            )

    def _send_pending(self, deadline: float | None) -> None:
        """Send pending batches oldest first; stop at the first failure, since the broker is likely down
        and each further attempt would cost another send_timeout_s. Caller holds _send_lock."""
        sent_now = 0
        while self._pending and (deadline is None or time.monotonic() < deadline):
            batch = self._pending[0]
            try:
                self._sender(batch.batch_id, batch.counts)
            except Exception as exc:
                self._on_send_failure(batch, exc)
                return
            self._pending.popleft()
            self._sent_batches += 1
            sent_now += 1
        if sent_now and self._outage_started is not None:
            log_event(
                logger,
                logging.WARNING,
                "client.send_recovered",
                outage_s=round(time.monotonic() - self._outage_started, 1),
                failed_attempts=self._outage_failures,
                pending_batches=len(self._pending),
            )
            self._outage_started = None
            self._outage_failures = 0

    def _on_send_failure(self, batch: _Batch, exc: BaseException) -> None:
        """Keep the batch (same batch_id) for the next attempt; log the first failure of an outage and
        then once a minute, so a long outage is visible without one warning per interval."""
        self._send_failures += 1
        self._outage_failures += 1
        if self._outage_started is None:
            self._outage_started = time.monotonic()
            self._log_state.pop("send_failed", None)
        self._log_limited(
            "send_failed",
            logging.WARNING,
            "client.send_failed",
            pending_batches=len(self._pending),
            pending_events=sum(b.events for b in self._pending),
            batch_id=batch.batch_id,
            failed_attempts=self._outage_failures,
            error=f"{type(exc).__name__}: {exc}",
        )

    def _celery_send(self, batch_id: str, counts: list[dict[str, Any]]) -> None:
        producer = self._producer
        if producer is None:
            producer = self._producer = TaskProducer(self._broker_url, self._send_timeout_s)
        producer.send(TASK_RECORD_FLOW_OUTCOMES, {"batch_id": batch_id, "counts": counts}, QUEUE_INGEST)

    # ------------------------------------------------------------------ errors, logs, exit, fork

    def _internal_error(self, where: str, exc: BaseException) -> None:
        try:
            self._internal_errors += 1
            self._log_limited(
                f"internal:{where}",
                logging.ERROR,
                "client.internal_error",
                where=where,
                internal_errors=self._internal_errors,
                error=f"{type(exc).__name__}: {exc}",
            )
        except Exception:  # logging itself failed; nothing safe is left to do
            pass

    def _log_limited(self, key: str, level: int, event: str, **fields: Any) -> None:
        """Log at most once a minute per key, with how many lines were suppressed since, so a
        per-call problem on a hot path cannot flood the service's logs."""
        now = time.monotonic()
        last, suppressed = self._log_state.get(key, (float("-inf"), 0))
        if now - last < _LOG_EVERY_S:
            self._log_state[key] = (last, suppressed + 1)
            return
        self._log_state[key] = (now, 0)
        log_event(logger, level, event, suppressed=suppressed or None, **fields)

    def _close_at_exit(self) -> None:
        if not self._closed:
            self.close()

    def _after_fork_in_child(self) -> None:
        """The parent owns the counts and pending batches copied into a forked child (sending them here
        too would report them twice), and locks, thread and broker sockets do not survive a fork."""
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._good = {}
        self._bad = {}
        self._pending = collections.deque()
        self._outage_started = None
        self._outage_failures = 0
        self._log_state = {}
        self._producer = None
        self._stop = threading.Event()
        had_thread = self._thread is not None
        self._thread = None
        if had_thread and not self._closed:
            self._start_thread()


def _register_fork_handler(recorder: OutcomeRecorder) -> None:
    """Hold only a weak reference so the fork hook does not keep closed recorders alive."""
    ref = weakref.ref(recorder)

    def after_fork() -> None:
        live = ref()
        if live is not None:
            live._after_fork_in_child()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=after_fork)
