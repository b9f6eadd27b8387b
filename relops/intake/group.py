"""Group commit for the intake: the requests that arrive while one group is with Redis and the
broker wait together and go as the next group, so under load each costs a share of two Redis round
trips and one broker batch instead of its own.

A request's answer is decided only after its group: 202 once the broker holds its message (200 and
the count for an Alertmanager notification or an OTLP export), 429 when its key is out of tokens,
503 when the broker did not take the group. Cron pings of a group travel as relops.cron_run_batch
messages and its outcome batches (an OTLP export's among them) as relops.record_flow_outcome_batches
messages, many to a message: a message costs the intake more than the bytes in it. An Alertmanager
notification's alerts go as relops.dispatch_alert messages, one per alert, as services send them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from relops_client.logs import log_event

from relops import names
from relops.access.report_keys import ReportKey
from relops.intake.publisher import BrokerPublisher, BrokerUnavailable, Message
from relops.intake.shared_state import SharedState, UnpairedPing

logger = logging.getLogger(__name__)
#: Requests handled as one group at most (a longer queue is split): bounds one group's latency.
MAX_GROUP = 1000
#: How long a group may wait for more requests to join it while they keep arriving.
LINGER_S = 0.002
#: Loop turns without a new request that end the wait (a request takes a few turns to be parsed).
QUIET_TURNS = 3
#: What a 503 tells clients to wait before trying again.
BROKER_RETRY_AFTER_S = 5
#: What a 503 for a full queue tells clients to wait.
QUEUE_FULL_RETRY_AFTER_S = 1
#: Outcome items in one message at most (a batch larger than this still goes, alone): bounds what
#: one worker task holds and redoes after a crash.
OUTCOME_ITEMS_PER_MESSAGE = 20_000


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Report:
    """One validated request waiting for its group."""

    key: ReportKey
    #: relops.cron_run kwargs (run_id None: pair it), relops.record_flow_outcomes kwargs,
    #: ``{"events": [relops.dispatch_alert kwargs, ...]}`` (an Alertmanager notification's alerts), or
    #: ``{"batches": [relops.record_flow_outcomes kwargs, ...]}`` (an OTLP export's spans, counted).
    task: str
    kwargs: dict[str, Any]
    future: asyncio.Future[Answer] | None = None


class ReportGroups:
    """Groups go out through ``flushers`` threads, each with its own broker connection, so one
    group's round trips overlap the next group's. Order within a group is kept; requests in two
    groups in flight at once were in flight at once for their clients too (a client sends a run's
    end after its start was answered), so pairing never depends on which group lands first."""

    def __init__(
        self,
        shared: SharedState,
        publishers: Callable[[], BrokerPublisher],
        *,
        flushers: int = 1,
        max_queued: int = 5000,
    ) -> None:
        self._shared = shared
        self._pending: list[Report] = []
        #: Reports waiting at most: past it, answered 503 at once (a stalled broker or Redis must
        #: not grow the queue, and the memory behind it, without bound).
        self.max_queued = max_queued
        self._wakeup: asyncio.Event | None = None
        self._flushers: list[asyncio.Task[None] | None] = [None] * flushers
        self._publishers = [publishers() for _ in range(flushers)]
        # One thread per flusher: a publisher's connection belongs to one thread.
        self._executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"relops-intake-group-{i}") for i in range(flushers)
        ]

    async def submit(self, report: Report) -> Answer:
        if len(self._pending) >= self.max_queued:
            return _queue_full()
        loop = asyncio.get_running_loop()
        if any(flusher is None or flusher.done() for flusher in self._flushers):
            self._start_flushers(loop)
        report.future = loop.create_future()
        self._pending.append(report)
        assert self._wakeup is not None
        self._wakeup.set()
        return await report.future

    def _start_flushers(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the flushers, or restart one that ended: a flusher that died of a bug would
        otherwise leave every later request waiting forever."""
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        for index, (executor, publisher) in enumerate(zip(self._executors, self._publishers, strict=True)):
            running = self._flushers[index]
            if running is not None and not running.done():
                continue
            if running is not None and not running.cancelled() and running.exception() is not None:
                log_event(logger, logging.ERROR, "intake.flusher_restarted", error=repr(running.exception())[:300])
            self._flushers[index] = loop.create_task(self._flush_forever(executor, publisher))

    async def close(self) -> None:
        for flusher in self._flushers:
            if flusher is not None:
                flusher.cancel()
        for executor in self._executors:
            executor.shutdown(wait=True)
        for publisher in self._publishers:
            publisher.close()

    async def _flush_forever(self, executor: ThreadPoolExecutor, publisher: BrokerPublisher) -> None:
        loop = asyncio.get_running_loop()
        assert self._wakeup is not None
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            await self._gather(loop)
            if not self._pending:  # another flusher took them
                continue
            group, self._pending = self._pending[:MAX_GROUP], self._pending[MAX_GROUP:]
            try:
                answers = await loop.run_in_executor(executor, self.apply, group, publisher)
            except Exception as exc:  # a bug here must answer the group, not leave it hanging
                log_event(logger, logging.ERROR, "intake.group_failed", requests=len(group), error=repr(exc)[:300])
                answers = [_lost()] * len(group)
            for report, answer in zip(group, answers, strict=True):
                if report.future is not None and not report.future.done():
                    report.future.set_result(answer)

    async def _gather(self, loop: asyncio.AbstractEventLoop) -> None:
        """Let a group fill while requests keep arriving: a group's round trips and broker batch cost
        the same for 5 requests as for 50. Waits only while the last loop turns brought more (at most
        LINGER_S), so a lone request goes at once and a burst goes as one group."""
        deadline = loop.time() + LINGER_S
        seen, quiet = len(self._pending), 0
        while quiet < QUIET_TURNS and loop.time() < deadline and len(self._pending) < MAX_GROUP:
            await asyncio.sleep(0)
            if len(self._pending) > seen:
                seen, quiet = len(self._pending), 0
            else:
                quiet += 1

    def apply(self, group: list[Report], publisher: BrokerPublisher) -> list[Answer]:
        """Rate limits, run pairing and the broker for one group; an answer per report, in order."""
        wanted: dict[int, tuple[ReportKey, int]] = {}
        ranks: list[int] = []
        for report in group:
            key, count = wanted.get(report.key.id, (report.key, 0))
            wanted[report.key.id] = (key, count + 1)
            ranks.append(count + 1)
        unpaired: dict[int, UnpairedPing] = {}
        for index, report in enumerate(group):
            if report.task == names.TASK_CRON_RUN and report.kwargs["run_id"] is None:
                starts = report.kwargs["status"] == "started"
                unpaired[index] = UnpairedPing(report.kwargs["name"], starts, report.key.id, ranks[index])
        quotas = self._shared.settle(wanted, list(unpaired.values()))
        answers: list[Answer | None] = [None] * len(group)
        events: list[dict[str, Any]] = []
        messages: list[Message] = []
        allowed: list[int] = []
        outcome_batches: list[dict[str, Any]] = []
        for index, report in enumerate(group):
            quota = quotas[report.key.id]
            if ranks[index] > quota.granted:
                answers[index] = _rate_limited(report.key, quota.retry_after_s)
                continue
            allowed.append(index)
            if report.task == names.TASK_CRON_RUN:
                event = report.kwargs
                ping = unpaired.get(index)
                if ping is not None:
                    event = {**event, "run_id": ping.run_id}
                    if event["duration_ms"] is None and ping.elapsed_ms is not None:
                        event["duration_ms"] = ping.elapsed_ms
                events.append(event)
                answers[index] = Answer(202, {"run_id": event["run_id"], "status": event["status"]})
            elif report.task == names.TASK_DISPATCH_ALERT:
                # One message per alert, as a service sends relops.dispatch_alert; none when every
                # alert of the notification was refused (the request still took its token).
                alerts = report.kwargs["events"]
                messages += [Message(names.TASK_DISPATCH_ALERT, event, names.QUEUE_ALERTS) for event in alerts]
                answers[index] = Answer(200, {"accepted": len(alerts)})
            elif report.task == names.TASK_RECORD_FLOW_OUTCOME_BATCHES:
                # An OTLP export's spans as outcome batches (none when no span counted: the request
                # still took its token).
                outcome_batches += report.kwargs["batches"]
                answers[index] = Answer(200, {"batches": len(report.kwargs["batches"])})
            else:
                outcome_batches.append(report.kwargs)
                answers[index] = Answer(202, {"batch_id": report.kwargs["batch_id"]})
        for start in range(0, len(events), names.MAX_CRON_EVENTS_PER_BATCH):
            chunk = events[start : start + names.MAX_CRON_EVENTS_PER_BATCH]
            messages.append(Message(names.TASK_CRON_RUN_BATCH, {"events": chunk}, names.QUEUE_CRON))
        messages += [
            Message(names.TASK_RECORD_FLOW_OUTCOME_BATCHES, {"batches": chunk}, names.QUEUE_INGEST)
            for chunk in _outcome_chunks(outcome_batches)
        ]
        try:
            publisher.publish(messages)
        except BrokerUnavailable:
            self._shared.unpair([unpaired[index] for index in allowed if index in unpaired])
            refused = Answer(
                503,
                {"error": "the broker is unavailable; nothing was accepted, send it again", "field": "broker"},
                {"Retry-After": str(BROKER_RETRY_AFTER_S)},
            )
            for index in allowed:
                answers[index] = refused
        return [answer if answer is not None else _lost() for answer in answers]


def _outcome_chunks(batches: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The batches cut into messages of at most MAX_OUTCOME_BATCHES_PER_MESSAGE batches and, unless
    one batch alone is larger, OUTCOME_ITEMS_PER_MESSAGE items."""
    chunks: list[list[dict[str, Any]]] = []
    items = 0
    for batch in batches:
        size = len(batch["counts"])
        if (
            not chunks
            or len(chunks[-1]) >= names.MAX_OUTCOME_BATCHES_PER_MESSAGE
            or (chunks[-1] and items + size > OUTCOME_ITEMS_PER_MESSAGE)
        ):
            chunks.append([])
            items = 0
        chunks[-1].append(batch)
        items += size
    return chunks


def _rate_limited(key: ReportKey, retry_after_s: int) -> Answer:
    return Answer(
        429,
        {"error": f"key {key.name!r} is over its rate limit of {key.rate_per_s:g}/s", "field": "key"},
        {"Retry-After": str(retry_after_s)},
    )


def _queue_full() -> Answer:
    return Answer(
        503,
        {"error": "the intake has too many reports waiting for the broker; nothing was accepted", "field": "intake"},
        {"Retry-After": str(QUEUE_FULL_RETRY_AFTER_S)},
    )


def _lost() -> Answer:
    return Answer(500, {"error": "internal error; nothing was accepted"})
