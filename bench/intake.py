"""``python -m bench intake``: one `relops intake` process against a bare 202 endpoint on the same
server stack, measured side by side in one run: cron pings and outcome batches of 100 counts, as
fast as the server answers (throughput and its ratio to the bare endpoint) and at the target rates
(1,000 pings/s, 200 batches/s: p50/p99 latency). Afterwards every 202 is checked against the
broker: each accepted ping and batch is in a queued message, exactly once.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import requests
from sqlalchemy import create_engine

from bench.http_load import LoadResult, request_bytes, run_load
from bench.intake_server import BARE_PATH
from bench.stack import BenchStack, bench_stack
from relops import names
from relops.access.report_keys import hash_key, new_key
from relops.store.report_keys import add_key
from relops.timeutil import utcnow
from tests.support.celery_process import poll_until

JOBS = 100
FLOWS = 100
CONNECTIONS = 32
PING_TARGET_PER_S = 1000
BATCH_TARGET_PER_S = 200
#: Requests per unpaced run: about two seconds each at the rates this machine reaches.
PINGS_PER_RUN = 20_000
BATCHES_PER_RUN = 10_000
WARM_UP = 2000


def _config() -> str:
    jobs = [f'[[jobs]]\nname = "job-{i:03d}"\nperiod_s = 3600\n' for i in range(JOBS)]
    flows = [f'[[flows]]\nname = "flow-{i:03d}"\nobjective_percent = 99.9\n' for i in range(FLOWS)]
    return "\n".join([*jobs, *flows])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds the process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(pid: int, load: Callable[[], LoadResult]) -> tuple[LoadResult, float]:
    """A load run and the server's CPU microseconds per request during it."""
    before = _cpu_s(pid)
    result = load()
    return result, (_cpu_s(pid) - before) / max(1, result.count) * 1e6


def _line(what: str, measured: tuple[LoadResult, float], baseline: tuple[LoadResult, float] | None = None) -> str:
    result, cpu_us = measured
    ratio = f"  {result.per_s / baseline[0].per_s:.2f}x of bare" if baseline else ""
    statuses = ",".join(f"{status}:{count}" for status, count in sorted(result.statuses.items()))
    return (
        f"  {what:<34} {result.per_s:>8.0f}/s  p50 {result.percentile(50):6.1f} ms  p99 {result.percentile(99):6.1f} ms"
        f"  server CPU {cpu_us:5.0f} us/req  [{statuses}{f' errors:{result.errors}' if result.errors else ''}]{ratio}"
    )


def _queued(client: redis.Redis, queue: str) -> list[dict]:
    """The kwargs of every message waiting in ``queue`` (kombu's Redis transport keeps a list)."""
    found = []
    for raw in client.lrange(queue, 0, -1):
        envelope = json.loads(raw)
        body = base64.b64decode(envelope["body"])
        if envelope["headers"].get("compression"):
            body = zlib.decompress(body)
        _args, kwargs, _embed = json.loads(body)
        found.append(kwargs)
    return found


def run() -> list[str]:
    with bench_stack(_config()) as stack, intake_server(stack, ["outcomes", "cron"]) as (port, key, server):
        return _measure(port, key, stack.env["CELERY_BROKER_URL"], server)


@contextmanager
def intake_server(stack: BenchStack, scopes: list[str]) -> Iterator[tuple[int, str, subprocess.Popen]]:
    """bench.intake_server (the intake with its bare endpoints) on a free port of ``stack``, with a
    report key of ``scopes`` and no practical rate limit: its port, the key and the process, up."""
    key = new_key()
    engine = create_engine(stack.env.get("RELOPS_ADMIN_DATABASE_URL") or stack.env["DATABASE_URL"])
    with engine.begin() as conn:
        add_key(
            conn,
            name="bench",
            key_hash=hash_key(key),
            scopes=scopes,
            flows=None,
            jobs=None,
            rate_per_s=1e6,
            burst=1_000_000,
            created_by="bench",
        )
    engine.dispose()
    port = _free_port()
    log = (stack.workdir / "intake.log").open("ab")
    server = subprocess.Popen(
        [sys.executable, "-m", "bench.intake_server", str(port)],
        env={**os.environ, **stack.env},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=Path(__file__).parent.parent,
    )
    try:
        poll_until(lambda: _up(port, server), 30, what="intake up")
        yield port, key, server
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def _measure(port: int, key: str, broker_url: str, server: subprocess.Popen) -> list[str]:
    pings = [
        request_bytes("GET", f"/api/v1/ping/{key}/job-{i % JOBS:03d}{'/start' if (i // JOBS) % 2 == 0 else ''}")
        for i in range(2 * JOBS)
    ]
    minute = utcnow().strftime("%Y-%m-%dT%H:%M:00Z")
    counts = [{"flow": f"flow-{i:03d}", "minute": minute, "good": 10, "bad": 1} for i in range(100)]
    auth = [("Authorization", f"Bearer {key}"), ("Content-Type", "application/json")]
    batch_ids: list[str] = []
    # Every request is built before its run starts: the load generator shares the machine's two cores
    # with the server, and building a batch per request would cost it more than sending the bare one.
    template = request_bytes(
        "POST", "/api/v1/outcomes", headers=auth, body=json.dumps({"batch_id": "0" * 32, "counts": counts}).encode()
    )

    def outcome_requests(total: int) -> Callable[[int], bytes]:
        ids = [uuid.uuid4().hex for _ in range(total)]
        batch_ids.extend(ids)
        built = [template.replace(b'"0' + b"0" * 31 + b'"', f'"{batch_id}"'.encode(), 1) for batch_id in ids]
        return built.__getitem__

    bare_get = request_bytes("GET", BARE_PATH)
    bare_post = request_bytes(
        "POST", BARE_PATH, headers=auth, body=json.dumps({"batch_id": "x" * 32, "counts": counts}).encode()
    )

    # Every path warmed up first (connections, caches, the batch decoder built for the config).
    run_load(port, lambda i: bare_get, total=WARM_UP, connections=CONNECTIONS)
    run_load(port, lambda i: pings[i % len(pings)], total=WARM_UP, connections=CONNECTIONS)
    run_load(port, lambda i: bare_post, total=WARM_UP, connections=CONNECTIONS)
    warm_batches = run_load(port, outcome_requests(WARM_UP), total=WARM_UP, connections=CONNECTIONS)
    lines = [f"intake: one process, {CONNECTIONS} keep-alive connections, {JOBS} jobs, batches of {len(counts)} counts"]
    pid = server.pid
    ping_total, batch_total = 0, warm_batches.statuses[202]
    for round_ in range(2):
        bare = _measured(pid, lambda: run_load(port, lambda i: bare_get, total=PINGS_PER_RUN, connections=CONNECTIONS))
        ping = _measured(
            pid, lambda: run_load(port, lambda i: pings[i % len(pings)], total=PINGS_PER_RUN, connections=CONNECTIONS)
        )
        lines += [_line(f"bare GET 202 (round {round_ + 1})", bare), _line("cron pings, max", ping, bare)]
        ping_total += ping[0].statuses[202]
        bare_batch = _measured(
            pid, lambda: run_load(port, lambda i: bare_post, total=BATCHES_PER_RUN, connections=CONNECTIONS)
        )
        built = outcome_requests(BATCHES_PER_RUN)
        batches = _measured(
            pid, lambda built=built: run_load(port, built, total=BATCHES_PER_RUN, connections=CONNECTIONS)
        )
        lines += [_line("bare POST of a batch", bare_batch), _line("outcome batches, max", batches, bare_batch)]
        batch_total += batches[0].statuses[202]
    paced_pings = _measured(
        pid,
        lambda: run_load(
            port,
            lambda i: pings[i % len(pings)],
            total=PING_TARGET_PER_S * 10,
            connections=CONNECTIONS,
            rate_per_s=PING_TARGET_PER_S,
        ),
    )
    paced_requests = outcome_requests(BATCH_TARGET_PER_S * 10)
    paced_batches = _measured(
        pid,
        lambda: run_load(
            port, paced_requests, total=BATCH_TARGET_PER_S * 10, connections=CONNECTIONS, rate_per_s=BATCH_TARGET_PER_S
        ),
    )
    lines += [
        _line(f"cron pings at {PING_TARGET_PER_S}/s (target)", paced_pings),
        _line(f"outcome batches at {BATCH_TARGET_PER_S}/s (target)", paced_batches),
    ]
    ping_total += WARM_UP + paced_pings[0].statuses[202]
    batch_total += paced_batches[0].statuses[202]
    lines += _accounting(broker_url, ping_total, batch_total, set(batch_ids))
    return lines


def _up(port: int, server: subprocess.Popen) -> bool:
    if server.poll() is not None:
        raise RuntimeError("the intake exited at start; see its log in bench/results")
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok
    except requests.RequestException:  # not listening yet, or too busy starting to answer in time
        return False


def _accounting(broker_url: str, pings: int, batches: int, batch_ids: set[str]) -> list[str]:
    client = redis.Redis.from_url(broker_url)
    try:
        # Every 202 was answered after its publish, so the queues are complete now.
        cron_messages = _queued(client, names.QUEUE_CRON)
        events = [event for message in cron_messages for event in message["events"]]
        batch_messages = _queued(client, names.QUEUE_INGEST)
        queued_batches = [batch["batch_id"] for message in batch_messages for batch in message["batches"]]
    finally:
        client.close()
    runs = {(event["name"], event["run_id"], event["status"]) for event in events}
    ok = (
        len(events) == pings
        and len(runs) == len(events)
        and sorted(queued_batches) == sorted(batch_ids)
        and len(queued_batches) == batches
    )
    verdict = "every 202 queued exactly once" if ok else "MISMATCH"
    return [
        f"  broker: {len(events)} ping events in {len(cron_messages)} messages "
        f"({len(events) / max(1, len(cron_messages)):.1f} per message) for {pings} accepted pings; "
        f"{len(queued_batches)} batches in {len(batch_messages)} messages for {batches} accepted: {verdict}"
    ]
