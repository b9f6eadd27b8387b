"""Task logic run in the test process, against the run's real PostgreSQL, Redis and local receivers.

The same functions the Celery tasks call (relops.application.route_alert, .delivery, relops.application.cron_health,
relops.application.evaluate, ...) run here with explicit dependencies; only the broker is left out. What
the logic publishes is recorded, and ``InProcessWorker`` runs it the way a worker would, so a rule
test follows an alert from dispatch to the receiver in milliseconds. Countdowns are not slept: a
message sent for later waits in ``delayed`` until the test says the time has passed.

What only processes can show (kills, restarts, outages, concurrency, Celery's own wiring) stays in
the tests that start real workers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import redis as redis_lib

from relops import names
from relops.application import (
    cron_health,
    deliver,
    evaluate,
    incident_check,
    route_alert,
    silence_housekeeping,
    watch_breakers,
)
from relops.application.deps import Deps
from relops.application.ingest import record_outcome_batches, record_outcomes
from relops.channels.registry import channel_classes
from relops.timeutil import parse_utc


@dataclass(frozen=True)
class SentTask:
    task: str
    kwargs: dict[str, Any]
    queue: str
    countdown_s: float = 0.0


@dataclass
class RecordingPublisher:
    """relops.application.deps.Publisher that keeps every message instead of handing it to a broker."""

    sent: list[SentTask] = field(default_factory=list)

    def __call__(self, task: str, kwargs: Mapping[str, Any], queue: str, countdown_s: float = 0.0) -> None:
        self.sent.append(SentTask(task, dict(kwargs), queue, countdown_s))

    def take(self) -> list[SentTask]:
        taken, self.sent = self.sent, []
        return taken


Handler = Callable[[Deps, dict[str, Any]], Any]


def _handlers() -> dict[str, Handler]:
    """Task name to the logic its Celery task runs (tasks/*.py), as a worker would route it."""
    handlers: dict[str, Handler] = {
        names.TASK_DISPATCH_ALERT: lambda d, kw: route_alert.dispatch_alert(d, kw, event_id=uuid.uuid4().hex),
        names.TASK_SWEEP_NOTIFICATIONS: lambda d, kw: deliver.sweep(d),
        names.TASK_CRON_RUN: lambda d, kw: cron_health.record_cron_run(d, kw),
        names.TASK_CRON_RUN_BATCH: lambda d, kw: cron_health.record_cron_runs(d, kw),
        names.TASK_CHECK_CRON_HEALTH: lambda d, kw: cron_health.check_cron_health(d, backlog=0),
        names.TASK_EVALUATE_TICK: lambda d, kw: evaluate.tick(d, manual=kw.get("manual") is True),
        names.TASK_EVALUATE_FLOWS: lambda d, kw: evaluate.evaluate_flows(d, parse_utc(kw["as_of"]), kw["flows"]),
        names.TASK_RECORD_FLOW_OUTCOMES: lambda d, kw: record_outcomes(d, kw.get("batch_id"), kw.get("counts")),
        names.TASK_RECORD_FLOW_OUTCOME_BATCHES: lambda d, kw: record_outcome_batches(d, kw),
        names.TASK_CHECK_BREAKERS: lambda d, kw: watch_breakers.check_breakers(d),
        names.TASK_CHECK_SILENCES: lambda d, kw: silence_housekeeping.check_silences(d),
        names.TASK_CHECK_INCIDENTS: lambda d, kw: incident_check.check_incidents(d),
    }
    for channel in channel_classes():
        handlers[names.notify_task(channel)] = lambda d, kw, c=channel: deliver.notify(
            d, kw.get("receiver") or c, kw.get("message_key")
        )
    return handlers


class InProcessWorker:
    """Runs what ``deps.publish`` (a RecordingPublisher) collected, and what that publishes in turn."""

    def __init__(self, deps: Deps, redis_client: redis_lib.Redis) -> None:
        if not isinstance(deps.publish, RecordingPublisher):
            raise TypeError("InProcessWorker needs deps built with a RecordingPublisher")
        self.deps = deps
        self.publisher: RecordingPublisher = deps.publish
        self.redis = redis_client
        self.handlers = _handlers()
        #: Messages sent with a countdown, not run yet.
        self.delayed: list[SentTask] = []
        #: Every message run so far, in order.
        self.ran: list[SentTask] = []

    def send(self, task: str, **kwargs: Any) -> None:
        """A message as a service would send it."""
        self.publisher(task, kwargs, names.TASK_QUEUES.get(task, ""))

    def drain(self, limit: int = 1000) -> int:
        """Run every due message until none is left; returns how many ran. Delayed ones wait."""
        count = 0
        while True:
            due = []
            for sent in self.publisher.take():
                (self.delayed if sent.countdown_s > 0 else due).append(sent)
            if not due:
                return count
            for sent in due:
                count += 1
                if count > limit:
                    raise RuntimeError(f"more than {limit} messages: a loop? last {sent}")
                self.ran.append(sent)
                self.handlers[sent.task](self.deps, sent.kwargs)

    def pass_time(self) -> int:
        """Let every countdown run out: the group windows close (their Redis timers with them) and
        the delayed messages run, then everything they send. Dedup windows, rate limits and
        breakers keep their own time in Redis and are left as they are."""
        timers = list(self.redis.scan_iter("relops:group:*"))
        if timers:
            self.redis.delete(*timers)
        delayed, self.delayed = self.delayed, []
        self.publisher.sent[:0] = [SentTask(s.task, s.kwargs, s.queue) for s in delayed]
        return self.drain()

    def settle(self, rounds: int = 10) -> None:
        """Drain and pass time until nothing is left to run."""
        for _ in range(rounds):
            self.drain()
            if not self.delayed:
                return
            self.pass_time()
        raise RuntimeError(f"still delayed after {rounds} rounds: {self.delayed}")
