"""The load run: 50 simulated services report the outcomes of 1,000 flows (100 of them go into an
outage) and the runs of 200 cron jobs for a bounded time, through the stack as `make run` starts it
(the Procfile's workers, one per alert channel, and beat); then every outcome, batch, cron event and
alert is accounted for. Baselines from the same run: direct upserts of batches of the same size,
ticks of the same stack idle after the load, and a direct POST to the same webhook receiver.

RELOPS_LOAD_SECONDS (default 120) bounds the load, RELOPS_LOAD_RATE (default 400) is outcomes per
second per service. Any MISMATCH line makes ``python -m bench load`` exit non-zero.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import threading
import time
import uuid
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import redis
import requests
from celery import Celery
from relops_client.producer import TaskProducer
from relops_client.recorder import OutcomeRecorder, RecorderStats
from sqlalchemy import Engine, text

from bench.stack import BenchStack, bench_stack, channel_env
from relops import redis_keys
from relops.errors import RelopsError
from relops.localdev.sink import HttpSink, SinkRequest
from relops.names import ALL_QUEUES, QUEUE_CRON, TASK_CRON_RUN, TASK_EVALUATE_FLOWS, TASK_EVALUATE_TICK
from relops.slo.outcome_batch import OutcomeCount
from relops.store.outcomes import ingest_batch
from relops.timeutil import floor_minute, utcnow
from tests.support.celery_process import CeleryProcess, poll_until

SERVICES = 50
FLOWS_PER_SERVICE = 20
JOBS_PER_SERVICE = 4
FLOWS = SERVICES * FLOWS_PER_SERVICE
JOBS = SERVICES * JOBS_PER_SERVICE
#: Every tenth flow goes into an outage, each at its own moment between 20 % and 70 % of the run,
#: so breaches reach the ticks a few at a time; from then on half of its requests fail (500x burn).
OUTAGE_EVERY = 10
#: Healthy flows fail one request in 2,000: half the 99.9 % allowance, a 0.5x burn that must not alert.
HEALTHY_FAIL_EVERY = 2000
#: Every twentieth job fails every run; with failure_threshold = 2 each owes one CRITICAL alert.
FAILING_JOB_EVERY = 20
FLUSH_INTERVAL_S = 5.0  # the client's default
CRON_EVERY_S = 10.0
TICK_INTERVAL_S = 10  # the shortest the config allows
CHUNK_SIZE = 100
CHUNKS = math.ceil(FLOWS / CHUNK_SIZE)
IDLE_TICKS = 3
DRAIN_TIMEOUT_S = 300.0
#: As the Procfile runs them: name, queues, concurrency, extra arguments.
WORKERS = (
    ("ingest", "ingest", 1, ()),
    ("evaluate", "evaluate", 2, ()),
    ("alerts", "alerts", 2, ("--prefetch-multiplier=8",)),
    ("cron", "cron", 1, ()),
    ("notify-webhook", "alerts.webhook", 1, ()),
    ("notify-email", "alerts.email", 1, ()),
)


def flow_name(i: int) -> str:
    return f"load-{i:04d}"


def job_name(i: int) -> str:
    return f"load-job-{i:03d}"


OUTAGE_FLOWS = [flow_name(i) for i in range(0, FLOWS, OUTAGE_EVERY)]
FAILING_JOBS = [job_name(i) for i in range(0, JOBS, FAILING_JOB_EVERY)]

#: The design's default windows (1h/6h/24h) need no shortening here: the scratch database starts
#: empty, so every window holds exactly the run's events and an outage burns in all of them at once.
_SETTINGS = f"""
[evaluation]
tick_interval_s = {TICK_INTERVAL_S}
chunk_size = {CHUNK_SIZE}

[alerts.channels.webhook]
rate_per_s = 1.0

[alerts.channels.email]
rate_per_s = 2.0
sender = "relops <alerts@example.com>"
"""


def _config() -> str:
    # Runs come every 10 s, more often than the shortest period allowed (60 s): the load is the
    # point, and a run that comes early is never missed.
    jobs = [f'[[jobs]]\nname = "{job_name(i)}"\nperiod_s = 60\nfailure_threshold = 2\n' for i in range(JOBS)]
    flows = [f'[[flows]]\nname = "{flow_name(i)}"\nobjective_percent = 99.9\n' for i in range(FLOWS)]
    return "\n".join([_SETTINGS, *jobs, *flows])


@dataclass
class Service:
    """One simulated service: its own OutcomeRecorder for its 20 flows, and its 4 jobs' cron runs."""

    index: int
    #: Flow -> time.monotonic() its outage starts; other flows stay healthy.
    outage_at: dict[str, float]
    good: Counter[str] = field(default_factory=Counter)
    bad: Counter[str] = field(default_factory=Counter)
    #: (job, run_id) -> status of the run's last event sent
    runs: dict[tuple[str, str], str] = field(default_factory=dict)
    cron_sent: int = 0
    cron_send_failures: int = 0
    stats: RecorderStats | None = None

    def run(self, broker_url: str, rate: float, stop: threading.Event) -> None:
        # Services do not start in step: their flushes spread over one flush interval.
        if stop.wait(self.index * FLUSH_INTERVAL_S / SERVICES):
            return
        recorder = OutcomeRecorder(broker_url=broker_url, flush_interval_s=FLUSH_INTERVAL_S)
        producer = TaskProducer(broker_url)
        flows = [flow_name(self.index * FLOWS_PER_SERVICE + i) for i in range(FLOWS_PER_SERVICE)]
        jobs = [self.index * JOBS_PER_SERVICE + i for i in range(JOBS_PER_SERVICE)]
        started, recorded = time.monotonic(), 0
        next_start = {job: started + CRON_EVERY_S * job / JOBS for job in jobs}
        running: dict[int, tuple[str, float]] = {}
        while not stop.wait(0.1):  # paces the simulated traffic; synchronises nothing
            now = time.monotonic()
            for _ in range(int((now - started) * rate) - recorded):
                flow = flows[recorded % len(flows)]
                recorder.record(flow, ok=self._outcome(flow, now))
                recorded += 1
            for job in jobs:
                if job in running and now >= running[job][1]:
                    self._report(producer, job, running.pop(job)[0], end=True)
                elif job not in running and now >= next_start[job]:
                    run_id = uuid.uuid4().hex
                    if self._report(producer, job, run_id, end=False):
                        running[job] = (run_id, now + 1 + job % 3)
                    next_start[job] += CRON_EVERY_S
        for job, (run_id, _) in running.items():  # every run that started ends: both its events are owed
            self._report(producer, job, run_id, end=True)
        recorder.close(timeout_s=30)
        self.stats = recorder.stats
        producer.close()

    def _outcome(self, flow: str, now: float) -> bool:
        """Deterministic, so the accounting can be exact. A healthy flow's failure comes last in each
        2,000, so no prefix of its outcomes (what the database holds at a tick) burns above 0.5x."""
        n = self.good[flow] + self.bad[flow]
        if now >= self.outage_at.get(flow, math.inf):
            failed = n % 2 == 0
        else:
            failed = n % HEALTHY_FAIL_EVERY == HEALTHY_FAIL_EVERY - 1
        (self.bad if failed else self.good)[flow] += 1
        return not failed

    def _report(self, producer: TaskProducer, job: int, run_id: str, *, end: bool) -> bool:
        status = ("failure" if job % FAILING_JOB_EVERY == 0 else "success") if end else "started"
        # No duration_ms on the end (it is optional): a row's started_at can then come only from its
        # start event and finished_at only from its end, so the table shows which events landed.
        kwargs = {
            "name": job_name(job),
            "run_id": run_id,
            "status": status,
            "at": utcnow().isoformat(),
            "duration_ms": None,
            "result": None,
            "error": "load: simulated failure" if status == "failure" else None,
        }
        try:
            producer.send(TASK_CRON_RUN, kwargs, QUEUE_CRON)
        except Exception:  # counted, not raised: the accounting shows it
            self.cron_send_failures += 1
            return False
        self.cron_sent += 1
        self.runs[(job_name(job), run_id)] = status
        return True


def drive(broker_url: str, seconds: float, rate: float) -> tuple[list[Service], float, float]:
    """Run the 50 services for ``seconds``; returns them (closed) and the load's wall-clock start and stop."""
    stop = threading.Event()
    began = time.monotonic()
    outage_at = {flow: began + seconds * (0.2 + 0.5 * j / len(OUTAGE_FLOWS)) for j, flow in enumerate(OUTAGE_FLOWS)}
    services = [Service(i, outage_at) for i in range(SERVICES)]
    threads = [threading.Thread(target=s.run, args=(broker_url, rate, stop), daemon=True) for s in services]
    started = time.time()
    for thread in threads:
        thread.start()
    stop.wait(seconds)  # the bounded run itself
    stop.set()
    stopped = time.time()
    for thread in threads:
        thread.join(timeout=120)
    unfinished = [s.index for s in services if s.stats is None]
    if unfinished:
        raise RelopsError(f"services {unfinished} did not finish (see the exception above)")
    return services, started, stopped


class TickTimes:
    """Task events from beat and the workers (Flower's feed): when beat sent each tick and when each
    chunk it fanned out finished. A chunk commits its snapshots as its last step, so this is
    bench/tick.py's "tick to last snapshot", for every tick: snapshots themselves cannot time them,
    as one minute's ticks share one evaluation time and so rewrite the same rows."""

    def __init__(self, app: Celery) -> None:
        self._app = app
        self._lock = threading.Lock()
        self._sent: dict[str, float] = {}
        self._chunk_tick: dict[str, str] = {}
        self._done: dict[str, list[float]] = defaultdict(list)
        self._events = 0
        self._receiver: Any = None
        self._thread = threading.Thread(target=self._capture, name="task-events", daemon=True)

    def _on_event(self, event: dict[str, Any]) -> None:
        kind, name, task_id = event.get("type"), event.get("name"), event.get("uuid")
        with self._lock:
            self._events += 1
            if name == TASK_EVALUATE_TICK and kind in ("task-sent", "task-received"):
                self._sent.setdefault(task_id, event["timestamp"])
            elif name == TASK_EVALUATE_FLOWS and kind == "task-received":
                self._chunk_tick[task_id] = event["parent_id"]
            elif kind == "task-succeeded" and task_id in self._chunk_tick:
                self._done[self._chunk_tick[task_id]].append(event["timestamp"])

    def _capture(self) -> None:
        with self._app.connection_for_read() as connection:
            self._receiver = self._app.events.Receiver(connection, handlers={"*": self._on_event})
            self._receiver.capture(limit=None, timeout=None, wakeup=False)

    def __enter__(self) -> TickTimes:
        self._thread.start()
        # Workers send heartbeats every 2 s: the first one says the subscription is live.
        poll_until(lambda: self._events, 30, 0.05, "the first task event (a worker heartbeat)")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._receiver.should_stop = True
        self._thread.join(timeout=10)

    def sent(self) -> list[float]:
        with self._lock:
            return sorted(self._sent.values())

    def latencies(self, since: float, until: float = math.inf) -> list[float]:
        """Seconds from beat sending each tick sent in [since, until) to its last chunk finishing;
        ticks that sent no chunks (a slot already evaluated, an expired tick) are left out."""
        with self._lock:
            return [
                max(done) - self._sent[tick]
                for tick, done in self._done.items()
                if len(done) == CHUNKS and since <= self._sent.get(tick, -1.0) < until
            ]


def start_beat(stack: BenchStack) -> CeleryProcess:
    beat = CeleryProcess(
        ["beat", f"--schedule={stack.workdir / 'beat-schedule'}", "--loglevel=INFO"],
        stack.env,
        stack.workdir / "beat.log",
    )
    poll_until(lambda: "beat: Starting" in beat.log_text() or not beat.alive(), 60, what="beat started")
    if not beat.alive():
        raise RelopsError(f"beat exited at start:\n{beat.log_text()[-3000:]}")
    return beat


def worker_rss(pid: int) -> tuple[int, float]:
    """(processes, MiB): VmRSS of a worker's main process plus its pool children, from /proc."""
    pids = [pid]
    for thread in os.listdir(f"/proc/{pid}/task"):  # the pool may fork from any thread of the main process
        pids += [int(child) for child in Path(f"/proc/{pid}/task/{thread}/children").read_text().split()]
    kib = sum(
        int(line.split()[1])
        for p in pids
        for line in Path(f"/proc/{p}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return len(pids), kib / 1024


def direct_upsert_rows_s(db: Engine, batches: int = 500) -> float:
    """Counter rows/s of direct upserts of batches shaped like one service's flush (its 20 flows,
    one minute), one transaction each, from one process with no broker; the tables are emptied after."""
    minute = floor_minute(utcnow())
    horizon = minute - timedelta(days=2)
    started = time.perf_counter()
    for b in range(batches):
        first = (b % SERVICES) * FLOWS_PER_SERVICE
        items = [OutcomeCount(flow=flow_name(first + i), minute=minute, good=40, bad=0) for i in range(20)]
        with db.begin() as conn:
            ingest_batch(conn, uuid.uuid4().hex, items, rejected=0, minute_horizon=horizon)
    elapsed = time.perf_counter() - started
    with db.begin() as conn:
        conn.execute(text("TRUNCATE ops_flow_minutes, ops_flow_hours, ops_flow_days, ops_ingested_batches"))
    return batches * FLOWS_PER_SERVICE / elapsed


def _scalar(db: Engine, sql: str) -> Any:
    with db.connect() as conn:
        return conn.execute(text(sql)).scalar_one()


def _landed(db: Engine, services: list[Service]) -> bool:
    """Every batch the clients sent is counted and every run they ended is merged."""
    batches = sum(s.stats.sent_batches for s in services if s.stats)
    ended = sum(status != "started" for s in services for status in s.runs.values())
    return (
        _scalar(db, "SELECT count(*) FROM ops_ingested_batches") >= batches
        and _scalar(
            db,
            "SELECT count(*) FROM ops_cron_executions WHERE name LIKE 'load-job-%' AND finished_at IS NOT NULL",
        )
        >= ended
    )


def _drained(db: Engine, broker: redis.Redis) -> Callable[[], bool]:
    """Nothing queued, nothing held unacknowledged by a worker (kombu keeps those, countdown flushes
    included, in its 'unacked' hash), no notification pending or sending; three looks in a row, as
    a message between a worker's fetch and its bookkeeping is briefly in neither place."""
    quiet = 0

    def drained() -> bool:
        nonlocal quiet
        in_flight = sum(broker.llen(q) for q in ALL_QUEUES) + broker.hlen("unacked")
        owed = _scalar(db, "SELECT count(*) FROM ops_notifications WHERE status IN ('pending', 'sending')")
        quiet = quiet + 1 if in_flight == 0 and owed == 0 else 0
        return quiet >= 3

    return drained


def _wait(predicate: Callable[[], Any], timeout_s: float, what: str, problems: list[str]) -> None:
    """Poll with a deadline; a timeout becomes a MISMATCH line, so the accounting still prints."""
    try:
        poll_until(predicate, timeout_s, 0.2, what)
    except TimeoutError as exc:
        problems.append(f"  MISMATCH: {exc}")


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else math.nan


@dataclass(frozen=True)
class Message:
    """One delivered message of a channel: the notifications it carried, and the request that carried it."""

    key: str
    delivered_at: float
    alerts: int
    post: SinkRequest | None


def delivered_messages(db: Engine, channel: str, sink: HttpSink) -> list[Message]:
    """Each delivered message with its received request. An email carries the message key as its
    Idempotency-Key. A webhook post carries none, but the channel's one process sends one message at
    a time and marks it delivered once the receiver has answered: its post is the last one received
    before delivered_at (the accounting checks that this pairs messages and posts one to one)."""
    with db.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT message_key, max(delivered_at), count(*) FROM ops_notifications "
                "WHERE channel = :channel AND status = 'delivered' GROUP BY message_key ORDER BY 2"
            ),
            {"channel": channel},
        ).all()
    posts = sorted(sink.requests, key=lambda r: r.received_at)
    received = [r.received_at for r in posts]
    by_key = {r.header("Idempotency-Key"): r for r in posts}
    messages = []
    for key, delivered_at, alerts in rows:
        before = bisect_right(received, delivered_at.timestamp()) - 1
        post = by_key.get(key) if channel == "email" else posts[before] if before >= 0 else None
        messages.append(Message(key, delivered_at.timestamp(), alerts, post))
    return messages


def alerts_in(post: SinkRequest) -> int:
    """Notifications in one received message: a grouped one says "12 alerts: …" in its email subject
    or webhook text (an email's "text" is its plain-text body, hence the subject first)."""
    body = post.json if isinstance(post.json, dict) else {}
    grouped = re.search(r"(\d[\d,]*) alerts: ", str(body.get("subject") or body.get("text") or ""))
    return int(grouped[1].replace(",", "")) if grouped else 1


def alert_latencies(db: Engine, webhook: list[Message], tick_sent: list[float]) -> tuple[list[float], list[float]]:
    """For each outage flow's first webhook notification, seconds to the receiver getting the post
    that carried it from (1) beat sending the tick that found the breach (the last tick sent before
    the alert event was recorded) and (2) the alert event being recorded (its outbox row is written
    in the same transaction)."""
    with db.connect() as conn:
        firsts = conn.execute(
            text(
                "SELECT DISTINCT ON (n.incident_id) n.created_at, n.message_key FROM ops_notifications n "
                "JOIN ops_incidents i ON i.id = n.incident_id WHERE i.source = 'slo' AND n.channel = 'webhook' "
                "ORDER BY n.incident_id, n.id"
            )
        ).all()
    posts = {m.key: m.post for m in webhook if m.post}
    from_tick, from_event = [], []
    for created_at, key in firsts:
        tick = bisect_right(tick_sent, created_at.timestamp()) - 1
        if key in posts and tick >= 0:
            from_tick.append(posts[key].received_at - tick_sent[tick])
            from_event.append(posts[key].received_at - created_at.timestamp())
    return from_tick, from_event


def account(
    db: Engine,
    broker: redis.Redis,
    services: list[Service],
    messages: dict[str, list[Message]],
    sinks: dict[str, HttpSink],
) -> list[str]:
    """Every outcome, batch, cron event and alert, from the clients to the tables and the receivers."""
    lines = ["  accounting:"]

    def check(label: str, ok: bool, detail: str) -> None:
        lines.append(f"    {label}: {detail}: {'OK' if ok else 'MISMATCH'}")

    stats = [s.stats for s in services if s.stats]
    with db.connect() as conn:

        def per_flow(table: str) -> dict[str, tuple[int, int]]:
            rows = conn.execute(text(f"SELECT flow, sum(good)::bigint, sum(bad)::bigint FROM {table} GROUP BY flow"))
            return {flow: (good, bad) for flow, good, bad in rows}

        minutes, hours = per_flow("ops_flow_minutes"), per_flow("ops_flow_hours")
        batches, rejected_items = conn.execute(
            text("SELECT count(*), coalesce(sum(rejected), 0) FROM ops_ingested_batches")
        ).one()
        cron_rows = conn.execute(
            text(
                "SELECT name, run_id, status, started_at IS NOT NULL, finished_at IS NOT NULL "
                "FROM ops_cron_executions WHERE name LIKE 'load-job-%'"
            )
        ).all()
        incidents = conn.execute(text("SELECT fingerprint, source FROM ops_incidents")).all()
        outbox = {
            channel: (owed, delivered, notified)
            for channel, owed, delivered, notified in conn.execute(
                text(
                    "SELECT channel, count(*), count(*) FILTER (WHERE status = 'delivered'), "
                    "count(DISTINCT incident_id) FILTER (WHERE status = 'delivered') "
                    "FROM ops_notifications GROUP BY channel"
                )
            )
        }
        dead = conn.execute(text("SELECT count(*) FROM ops_dead_letters")).scalar_one()
        rejected = conn.execute(text("SELECT count(*) FROM ops_rejected_inputs")).scalar_one()

    expected = {flow: (s.good[flow], s.bad[flow]) for s in services for flow in {*s.good, *s.bad}}
    flows = {*expected, *minutes, *hours}
    differ = sum(1 for flow in flows if not expected.get(flow) == minutes.get(flow) == hours.get(flow))
    recorded = sum(st.recorded for st in stats)

    def events(table: dict[str, tuple[int, int]]) -> int:
        return sum(good + bad for good, bad in table.values())

    check(
        "outcome events",
        recorded == events(expected) == events(minutes) == events(hours) and differ == 0 and len(stats) == SERVICES,
        f"clients recorded {recorded:,} ({sum(b for _, b in expected.values()):,} bad), ops_flow_minutes "
        f"{events(minutes):,}, ops_flow_hours {events(hours):,}; {differ} flows differ in good or bad",
    )
    sent, pending = sum(st.sent_batches for st in stats), sum(st.pending_batches for st in stats)
    dropped, failures = sum(st.dropped_events for st in stats), sum(st.send_failures for st in stats)
    check(
        "batches",
        sent == batches and pending == dropped == 0,
        f"sent {sent:,}, accepted {batches:,} ({pending} left pending, {dropped} events dropped, "
        f"{failures} sends failed and were retried)",
    )

    owed_runs = {key: "running" if status == "started" else status for s in services for key, status in s.runs.items()}
    merged = {(name, run_id): status if has_end else "running" for name, run_id, status, _, has_end in cron_rows}
    persisted = sum(has_start + has_end for *_, has_start, has_end in cron_rows)
    cron_sent, cron_failures = sum(s.cron_sent for s in services), sum(s.cron_send_failures for s in services)
    runs_differ = sum(1 for key in {*owed_runs, *merged} if owed_runs.get(key) != merged.get(key))
    check(
        "cron events",
        cron_sent == persisted and runs_differ == 0 and cron_failures == 0,
        f"sent {cron_sent:,}, persisted {persisted:,} as {len(merged):,} runs (start and end merged) for "
        f"{len(owed_runs):,} runs started; {runs_differ} runs differ, {cron_failures} sends failed",
    )

    by_source: dict[str, set[str]] = defaultdict(set)
    for fingerprint, source in incidents:
        by_source[source].add(fingerprint)
    want_slo = {f"slo:{flow}" for flow in OUTAGE_FLOWS}
    want_cron = {f"cron:{job}:failing" for job in FAILING_JOBS}
    other = sum(len(fps) for source, fps in by_source.items() if source not in ("slo", "cron"))
    check(
        "incidents",
        by_source["slo"] == want_slo and by_source["cron"] == want_cron and other == 0,
        f"{len(by_source['slo'] & want_slo)} of {len(want_slo)} outage flows, "
        f"{len(by_source['slo'] - want_slo)} healthy flows; {len(by_source['cron'] & want_cron)} of "
        f"{len(want_cron)} failing jobs, {len(by_source['cron'] - want_cron)} other jobs; {other} other",
    )
    for channel, sink in sinks.items():
        owed, delivered, notified = outbox.get(channel, (0, 0, 0))
        sent_messages = messages[channel]
        # Each delivered message paired with a distinct request, and each request carried as many
        # alerts as its message held: the receiver got exactly what the outbox says was delivered.
        paired = {id(m.post) for m in sent_messages if m.post and alerts_in(m.post) == m.alerts}
        counted = sum(alerts_in(r) for r in sink.requests)
        check(
            f"{channel} alerts",
            owed == delivered == counted
            and len(paired) == len(sent_messages) == len(sink.requests)
            and notified == len(incidents),
            f"owed {owed}, delivered {delivered} in {len(sent_messages)} messages; the receiver got "
            f"{len(sink.requests)} messages carrying {counted} ({len(paired)} paired one to one); "
            f"{notified} of {len(incidents)} incidents notified",
        )
    faults = {key.decode(): int(n) for key, n in broker.hgetall(redis_keys.task_faults()).items()}
    task_failures = sum(n for key, n in faults.items() if not key.startswith("retry:"))
    retries = sum(n for key, n in faults.items() if key.startswith("retry:"))
    check(
        "losses",
        dead == rejected == rejected_items == task_failures == 0,
        f"{dead} dead letters, {rejected} rejected inputs ({rejected_items} batch items), "
        f"{task_failures} failed tasks or undecodable messages ({retries} retries)",
    )
    return lines


@dataclass
class LoadResult:
    services: list[Service]
    #: Wall clock: the load started, the services were told to stop, they had closed.
    started: float
    stopped: float
    closed: float
    direct_rows_s: float
    memory_start: dict[str, tuple[int, float]]
    memory_end: dict[str, tuple[int, float]]
    tick_sent: list[float]
    ticks_under_load: list[float]
    ticks_idle: list[float]
    alerts_from_tick: list[float]
    alerts_from_event: list[float]
    rows: int
    last_batch_at: float
    lines: list[str]


def load(stack: BenchStack, sinks: dict[str, HttpSink], seconds: float, rate: float) -> LoadResult:
    """Baseline upserts, workers, beat, the load, the drain and the idle ticks, then the accounting."""
    problems: list[str] = []
    direct_rows_s = direct_upsert_rows_s(stack.db)
    workers = {name: stack.worker(f"load-{name}", q, n, extra_args=extra) for name, q, n, extra in WORKERS}
    memory_start = {name: worker_rss(w.pid) for name, w in workers.items()}
    with closing(redis.Redis.from_url(stack.env["REDIS_URL"])) as broker, TickTimes(stack.producer) as ticks:
        beat = start_beat(stack)
        try:
            services, started, stopped = drive(stack.env["CELERY_BROKER_URL"], seconds, rate)
            closed = time.time()
            _wait(lambda: _landed(stack.db, services), DRAIN_TIMEOUT_S, "every batch and run landed", problems)
            landed = time.time()
            # The idle baseline: ticks of the same flows and data, with nothing else running.
            _wait(lambda: len(ticks.latencies(landed)) >= IDLE_TICKS, 120, "idle ticks", problems)
        finally:
            beat.stop()
        _wait(_drained(stack.db, broker), DRAIN_TIMEOUT_S, "the pipeline drained", problems)
        messages = {channel: delivered_messages(stack.db, channel, sink) for channel, sink in sinks.items()}
        from_tick, from_event = alert_latencies(stack.db, messages["webhook"], ticks.sent())
        accounting = account(stack.db, broker, services, messages, sinks)
    return LoadResult(
        services=services,
        started=started,
        stopped=stopped,
        closed=closed,
        direct_rows_s=direct_rows_s,
        memory_start=memory_start,
        memory_end={name: worker_rss(w.pid) for name, w in workers.items()},
        tick_sent=ticks.sent(),
        ticks_under_load=ticks.latencies(started, stopped),
        ticks_idle=ticks.latencies(landed)[:IDLE_TICKS],
        alerts_from_tick=from_tick,
        alerts_from_event=from_event,
        rows=_scalar(stack.db, "SELECT coalesce(sum(accepted), 0) FROM ops_ingested_batches"),
        last_batch_at=_scalar(stack.db, "SELECT max(received_at) FROM ops_ingested_batches").timestamp(),
        lines=accounting + problems,
    )


def direct_post_s(posts: int = 200) -> list[float]:
    """Seconds per plain POST to a receiver like the webhook's: the floor under any alert latency."""
    with HttpSink() as sink:
        latencies = []
        for _ in range(posts):
            posted = time.monotonic()
            requests.post(sink.url + "/direct", json={"text": "x"}, timeout=5)
            latencies.append(time.monotonic() - posted)
    return latencies


def run() -> list[str]:
    seconds = float(os.environ.get("RELOPS_LOAD_SECONDS", "120"))
    rate = float(os.environ.get("RELOPS_LOAD_RATE", "400"))
    with (
        HttpSink() as webhook,
        HttpSink() as email,
        bench_stack(_config(), channel_env(webhook, email, "load")) as stack,
    ):
        r = load(stack, {"webhook": webhook, "email": email}, seconds, rate)
    direct_p50 = statistics.median(direct_post_s())

    elapsed = r.stopped - r.started
    recorded = sum(s.stats.recorded for s in r.services if s.stats)
    batches = sum(s.stats.sent_batches for s in r.services if s.stats)
    cron_sent, runs = sum(s.cron_sent for s in r.services), sum(len(s.runs) for s in r.services)
    tick_p50, idle_p50 = percentile(r.ticks_under_load, 50), percentile(r.ticks_idle, 50)
    alert_p50 = percentile(r.alerts_from_tick, 50)
    workers = ", ".join(f"{name} x{n}" for name, _, n, _ in WORKERS)
    memory = ", ".join(
        f"{name} {start:.0f} -> {r.memory_end[name][1]:.0f} MiB ({r.memory_end[name][0]} processes)"
        for name, (_, start) in r.memory_start.items()
    )
    total_start = sum(mib for _, mib in r.memory_start.values())
    total_end = sum(mib for _, mib in r.memory_end.values())
    lines = [
        f"load: {SERVICES} services x {FLOWS_PER_SERVICE} flows = {FLOWS:,} flows ({len(OUTAGE_FLOWS)} go into an "
        f"outage), {JOBS} cron jobs ({len(FAILING_JOBS)} failing), {seconds:.0f} s (RELOPS_LOAD_SECONDS) at "
        f"{rate:.0f} outcomes/s per service (RELOPS_LOAD_RATE)",
        f"  stack: workers {workers}, beat; tick every {TICK_INTERVAL_S} s in chunks of {CHUNK_SIZE}; "
        f"clients flush every {FLUSH_INTERVAL_S:.0f} s; each job runs every {CRON_EVERY_S:.0f} s",
        f"  ingested: {recorded / elapsed:,.0f} outcome events/s ({recorded:,} in {elapsed:.0f} s); "
        f"{r.rows / elapsed:,.0f} counter rows/s persisted in {batches / elapsed:.1f} batches/s; the last batch "
        f"was counted {r.last_batch_at - r.closed:.1f} s after the services closed",
        f"  baseline, direct upserts of {FLOWS_PER_SERVICE}-row batches, one process, no broker: "
        f"{r.direct_rows_s:,.0f} rows/s (the load used {r.rows / elapsed / r.direct_rows_s:.1%} of it)",
        f"  cron: {cron_sent / elapsed:,.1f} events/s ({cron_sent:,} events, {runs:,} runs)",
        f"  tick latency under load, beat sent -> last chunk committed ({FLOWS:,} flows, {CHUNKS} chunks): "
        f"p50 {tick_p50:.2f} s, max {max(r.ticks_under_load, default=math.nan):.2f} s "
        f"over {len(r.ticks_under_load)} ticks ({sum(r.started <= t < r.stopped for t in r.tick_sent)} sent)",
        f"  baseline, the same ticks on the idle stack after the load: p50 {idle_p50:.2f} s "
        f"over {len(r.ticks_idle)} ticks (under load {tick_p50 / idle_p50:.1f}x)",
        f"  alert latency, {len(r.alerts_from_tick)} outage flows, tick that found the breach (beat sent) -> "
        f"webhook received: p50 {alert_p50:.2f} s, p99 {percentile(r.alerts_from_tick, 99):.2f} s; "
        f"alert event recorded -> webhook received: p50 {percentile(r.alerts_from_event, 50):.2f} s, "
        f"p99 {percentile(r.alerts_from_event, 99):.2f} s",
        f"  baseline, direct POST to the same kind of receiver: p50 {direct_p50 * 1000:.1f} ms (relops p50 is "
        f"{alert_p50 / direct_p50:,.0f}x: most of it is grouping, group_wait_s 5 s for a burst's first alert, "
        "group_interval_s 1 s after a flush)",
        f"  worker memory (VmRSS, main + pool), start -> end: {memory}; total {total_start:.0f} -> "
        f"{total_end:.0f} MiB ({total_end / total_start:.2f}x)",
        *r.lines,
    ]
    mismatches = sum("MISMATCH" in line for line in lines)
    lines.append(f"  MISMATCH: {mismatches} checks failed" if mismatches else "  every event and alert accounted for")
    return lines


if __name__ == "__main__":
    output = run()
    print("\n".join(output))
    raise SystemExit(1 if any("MISMATCH" in line for line in output) else 0)
