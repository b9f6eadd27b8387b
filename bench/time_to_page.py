"""Time to page: from a flow's first bad event to the webhook receiving its alert, end to end.

The stack runs as ``make run`` starts it (ingest, evaluate, alerts and channel workers, beat) at
the default settings, with local receivers. A service records steady traffic through the Python
client; every flow has 30 days of history behind it (written with relops' own ingest, so the SLO
period and the long windows start full and healthy, as in production). Then, at a known instant:

- a total outage (every request fails);
- 10 % of requests fail;
- a slow 2x burn, which only the 24 h rule can catch, 18 h in: time is compressed with backdated
  counters. The burn's first 18 h less about 150 s (SLOW_BURN_CROSSES_AFTER_S) are history, and
  the rest runs live, so the measured time is the whole 18 h, counted from the backdated first bad event;
- a low-traffic flow (one request a minute) gets one bad request.

Healthy flows run beside them and must page nobody. For each scenario the theoretical detection
time comes from the configured rules (relops.slo.detection: (1 - SLO) / error ratio x window x
threshold); the measured time is from the first bad event to the webhook's receipt.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from relops_client import OutcomeRecorder
from sqlalchemy import Engine

from bench.stack import BenchStack, bench_stack, channel_env
from relops.config import AlertsConfig, EvaluationConfig
from relops.localdev.sink import HttpSink, SinkRequest
from relops.slo.burnrate import objective_fraction
from relops.slo.detection import Detection, first_critical, first_detection, single_error_detection
from relops.slo.outcome_batch import OutcomeCount
from relops.store.outcomes import ingest_batch
from relops.timeutil import floor_minute

OBJECTIVE = "99.9"
HISTORY = timedelta(days=31)
#: The client flushes every second here (its default is 5 s): the bench measures relops, not the
#: client's buffer. Add up to the client's flush interval for a service that keeps the default.
FLUSH_INTERVAL_S = 1.0
#: Healthy traffic before the failures start, so at least one tick sees every flow healthy.
LEAD_S = 40.0
#: The slow burn's theoretical crossing, this long after the live traffic starts.
SLOW_BURN_CROSSES_AFTER_S = 150.0
HEALTHY_FLOWS = ("ttp-healthy-1", "ttp-healthy-2", "ttp-healthy-3")
#: Requests per second of the busy flows, healthy ones included.
BUSY = Fraction(10)
_TITLE = re.compile(r"\b(WARNING|CRITICAL): (ttp-[a-z0-9-]+) ")


@dataclass
class Scenario:
    flow: str
    label: str
    #: Requests per second.
    rate: Fraction
    #: Once failing, every request whose number (counted from the live start) is a multiple of this
    #: fails: an error ratio of 1 / bad_every. None: its steady traffic never fails.
    bad_every: int | None
    #: What the rules predict: the first alert and the first CRITICAL (None: none comes).
    first: Detection | None
    critical: Detection | None
    #: Set when the first bad event is recorded (backdated for the slow burn).
    first_bad_at: float | None = None
    received: dict[str, float] = field(default_factory=dict)


def scenarios(evaluation: EvaluationConfig) -> list[Scenario]:
    objective = objective_fraction(OBJECTIVE)
    rules = evaluation.windows

    def failing(flow: str, label: str, rate: Fraction, bad_every: int) -> Scenario:
        ratio = Fraction(1, bad_every)
        first = first_detection(rules, objective, ratio, rate)
        return Scenario(flow, label, rate, bad_every, first, first_critical(rules, objective, ratio, rate))

    one_a_minute = Fraction(1, 60)
    single = single_error_detection(rules, objective, one_a_minute)
    return [
        failing("ttp-outage", "total outage", BUSY, 1),
        failing("ttp-ten-percent", "10 % errors", BUSY, 10),
        failing("ttp-slow-burn", "slow 2x burn (backdated)", Fraction(50), 500),
        # One bad request, recorded by itself: its steady traffic never fails.
        Scenario("ttp-low-traffic", "1 bad request, 1 request/min", one_a_minute, None, single, single),
    ]


def _config(flows: list[str]) -> str:
    # Defaults everywhere: the tick interval, the windows, group waits. Only the flows are set.
    return "\n".join(f'[[flows]]\nname = "{flow}"\nobjective_percent = {OBJECTIVE}\n' for flow in flows)


def _backfill(db: Engine, until: datetime, counts: dict[str, Callable[[datetime], tuple[int, int]]]) -> int:
    """History through relops' own ingest: minute, hour and day rows exactly as a service's batches
    would have written them. ``counts`` gives (good, bad) of a flow's whole minute."""
    minute_horizon = until - timedelta(hours=26)
    start = floor_minute(until - HISTORY)
    items = []
    for flow, per_minute in counts.items():
        minute = start
        while minute < until:
            good, bad = per_minute(minute)
            # The minute the live traffic starts in holds its share of history up to that instant.
            share = min(Fraction(1), Fraction((until - minute).total_seconds()) / 60)
            good, bad = int(good * share), int(bad * share)
            if good or bad:
                items.append(OutcomeCount(flow=flow, minute=minute, good=good, bad=bad))
            minute += timedelta(minutes=1)
    with db.begin() as conn:
        ingest_batch(conn, f"bench-history-{uuid.uuid4().hex}", items, rejected=0, minute_horizon=minute_horizon)
    return len(items)


def _per_minute(
    rate: Fraction, bad_every: int | None = None, burn_from: datetime | None = None
) -> Callable[[datetime], tuple[int, int]]:
    events = int(rate * 60)

    def counts(minute: datetime) -> tuple[int, int]:
        if bad_every and burn_from is not None and minute >= burn_from:
            bad = events // bad_every
            return events - bad, bad
        return events, 0

    return counts


def _start_stack(stack: BenchStack) -> None:
    """What ``make run`` starts (the Procfile's workers and beat), at their default concurrency."""
    for name, queues, concurrency, extra in (
        ("ttp-ingest", "ingest", 1, ()),
        ("ttp-evaluate", "evaluate", 2, ()),
        ("ttp-alerts", "alerts", 2, ("--prefetch-multiplier=8",)),
        ("ttp-cron", "cron", 1, ()),
        ("ttp-webhook", "alerts.webhook", 1, ()),
        ("ttp-email", "alerts.email", 1, ()),
    ):
        stack.worker(name, queues, concurrency=concurrency, extra_args=extra)
    stack.beat()


class Service:
    """Steady traffic through the client: each flow's requests at its rate, deterministic failures."""

    def __init__(self, recorder: OutcomeRecorder, started: float, fail_at: float, flows: list[Scenario]) -> None:
        self.recorder, self.started, self.fail_at, self.flows = recorder, started, fail_at, flows
        self.healthy = {flow: BUSY for flow in HEALTHY_FLOWS}
        self.low = next(s for s in flows if s.bad_every is None)
        self.sent: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ttp-service", daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.05):
            now = time.time()
            elapsed = Fraction(now - self.started)
            for flow, rate in self.healthy.items():
                self._send(flow, rate, elapsed, None)
            for scenario in self.flows:
                # The slow burn started in its backdated history: its live requests fail from the start.
                failing = now >= self.fail_at or scenario.flow == "ttp-slow-burn"
                self._send(scenario.flow, scenario.rate, elapsed, scenario.bad_every if failing else None, scenario)
            if now >= self.fail_at and self.low.first_bad_at is None:
                self.recorder.record(self.low.flow, ok=False)
                self.low.first_bad_at = time.time()

    def _send(
        self,
        flow: str,
        rate: Fraction,
        elapsed: Fraction,
        bad_every: int | None,
        scenario: Scenario | None = None,
    ) -> None:
        due = int(rate * elapsed)
        index = self.sent.get(flow, 0)
        while index < due:
            bad = bad_every is not None and index % bad_every == 0
            self.recorder.record(flow, ok=not bad)
            if bad and scenario is not None and scenario.first_bad_at is None:
                scenario.first_bad_at = time.time()
            index += 1
        self.sent[flow] = index


def _expected(scenario: Scenario) -> set[str]:
    return {d.level for d in (scenario.first, scenario.critical) if d is not None}


def _note(received: SinkRequest, by_flow: dict[str, Scenario], strays: list[str]) -> None:
    text = json.dumps(received.json, ensure_ascii=False)
    for level, flow in _TITLE.findall(text):
        scenario = by_flow.get(flow)
        if scenario is None:
            strays.append(f"{level} {flow}")
        else:
            scenario.received.setdefault(level.lower(), received.received_at)


def _row(scenario: Scenario, level: str, predicted: Detection | None, tick_s: int, group_wait_s: float) -> str:
    if predicted is None:
        got = scenario.received.get(level)
        verdict = "none, as predicted" if got is None else "MISMATCH: one came"
        return f"  {scenario.label:<30} {level:<8} none predicted; received: {verdict}"
    theory = float(predicted.seconds)
    got = scenario.received.get(level)
    if got is None or scenario.first_bad_at is None:
        return f"  {scenario.label:<30} {level:<8} {predicted.rule:>4} {theory:9.1f} s   measured: MISMATCH (no page)"
    measured = got - scenario.first_bad_at
    # The bound, one tick plus the group wait, and the client's flush: the service's own buffer.
    allowed = tick_s + group_wait_s + FLUSH_INTERVAL_S
    verdict = "within one tick + group wait" if measured - theory <= allowed else "MISMATCH: later than a tick + wait"
    return (
        f"  {scenario.label:<30} {level:<8} {predicted.rule:>4} {theory:9.1f} s {measured:9.1f} s "
        f"{measured - theory:+7.1f} s  ({verdict})"
    )


def run() -> list[str]:
    evaluation, alerts = EvaluationConfig(), AlertsConfig()
    tick_s = evaluation.tick_interval_s
    cases = scenarios(evaluation)
    by_flow = {s.flow: s for s in cases}
    flows = [s.flow for s in cases] + list(HEALTHY_FLOWS)
    webhook, email = HttpSink().start(), HttpSink().start()
    strays: list[str] = []
    try:
        with bench_stack(_config(flows), extra_env=channel_env(webhook, email, "ttp")) as stack:
            _start_stack(stack)
            started = time.time()
            live_start = datetime.fromtimestamp(started, UTC)
            slow = by_flow["ttp-slow-burn"]
            if slow.first is None:
                raise RuntimeError("the configured rules never catch a 2x burn: nothing to compress")
            crosses = live_start + timedelta(seconds=SLOW_BURN_CROSSES_AFTER_S)
            burn_from = floor_minute(crosses - timedelta(seconds=float(slow.first.seconds)))
            history = {flow: _per_minute(BUSY) for flow in HEALTHY_FLOWS}
            history |= {s.flow: _per_minute(s.rate) for s in cases}
            history["ttp-slow-burn"] = _per_minute(slow.rate, slow.bad_every, burn_from)
            rows = _backfill(stack.db, live_start, history)
            slow.first_bad_at = burn_from.timestamp()
            recorder = OutcomeRecorder(broker_url=stack.env["CELERY_BROKER_URL"], flush_interval_s=FLUSH_INTERVAL_S)
            # The failures start LEAD_S after the service does (the history above took its time).
            fail_at = time.time() + LEAD_S
            service = Service(recorder, started, fail_at, cases)
            service.thread.start()
            horizon = (
                max(
                    (slow.first_bad_at if s is slow else fail_at) + float(d.seconds)
                    for s in cases
                    for d in (s.first, s.critical)
                    if d is not None
                )
                + 2 * tick_s
                + 30
            )
            seen = 0
            try:
                while time.time() < horizon:
                    requests = webhook.requests
                    for request in requests[seen:]:
                        _note(request, by_flow, strays)
                    seen = len(requests)
                    if all(_expected(s) <= s.received.keys() for s in cases) and time.time() > fail_at + 60:
                        break
                    time.sleep(0.2)
            finally:
                service.stop.set()
                service.thread.join(5)
                recorder.close()
    finally:
        webhook.close()
        email.close()
    lines = [
        f"time to page, default settings (tick every {tick_s} s, group wait {alerts.group_wait_s:g} s, "
        f"{alerts.critical_group_wait_s:g} s for a CRITICAL that opens a group), objective {OBJECTIVE} %, "
        f"client flushing every {FLUSH_INTERVAL_S:g} s; history: {rows:,} minute counts over {HISTORY.days} days",
        f"  {'scenario':<30} {'page':<8} {'rule':>4} {'theory':>11} {'measured':>11} {'diff':>9}",
    ]
    for s in cases:
        if s.first is not None and s.first.level == "warning":
            lines.append(_row(s, "warning", s.first, tick_s, alerts.group_wait_s))
        lines.append(_row(s, "critical", s.critical, tick_s, alerts.critical_group_wait_s))
    lines.append(
        f"  healthy flows ({len(HEALTHY_FLOWS)}): "
        + ("paged nobody" if not strays else f"MISMATCH: paged {', '.join(sorted(set(strays)))}")
    )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
