"""What a flood of refused requests costs a real `relops intake` process: a few rows and log lines
a second, whatever their number; an address refused too often gets bare 429s while the keys behind
it keep reporting; and a stalled broker fills the intake's queue only up to its cap, past which
reports are answered 503 at once."""

from __future__ import annotations

import http.client
import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import Engine

from tests.integration.conftest import CRON_JOB, wait_for
from tests.integration.test_intake import new_key, refusals_in, rejection_rows, running_intake
from tests.web_support import running_server

pytestmark = pytest.mark.integration
FLOOD = 20_000
THREADS = 4
BOGUS_KEY = "rlk_" + "b0gus" * 8 + "xyz"
#: What each flooding thread sends in turn: a made-up bearer key, a made-up key in a ping URL, no
#: key at all, and a path that is no endpoint.
BOGUS = [
    ("GET", f"/api/v1/cron/{CRON_JOB}", {"Authorization": f"Bearer {BOGUS_KEY}"}, None),
    ("GET", f"/api/v1/ping/{BOGUS_KEY}/{CRON_JOB}", {}, None),
    ("POST", "/api/v1/outcomes", {"Content-Type": "application/json"}, b'{"counts": []}'),
    ("GET", "/api/v1/nothing-here", {}, None),
]


def flood(url: str, requests_each: int, statuses: Counter[int], lock: threading.Lock) -> None:
    """``requests_each`` bogus requests over one keep-alive connection (reopened when closed)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    seen: Counter[int] = Counter()
    try:
        for i in range(requests_each):
            method, path, headers, body = BOGUS[i % len(BOGUS)]
            conn.request(method, path, body=body, headers=headers)
            answer = conn.getresponse()
            sent_back = answer.read()
            seen[answer.status] += 1
            if answer.status == 429:
                assert int(answer.headers["Retry-After"]) >= 1
                assert json.loads(sent_back)["field"] == "address"
    finally:
        conn.close()
        with lock:
            statuses.update(seen)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_lines(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines()


def test_twenty_thousand_bogus_requests_leave_a_few_dozen_rows_and_lines(
    relops_env: dict[str, str], output_dir: Path, db: Engine, clean_tables: None
) -> None:
    key = new_key("--scope", "cron")  # made before the intake starts: known from its first request
    log_path = output_dir / "intake-flood.log"
    with running_server("intake", relops_env, log_path) as (url, process):
        before = len(log_lines(log_path))
        cpu_before = cpu_s(process.pid)
        statuses: Counter[int] = Counter()
        lock = threading.Lock()
        started = time.monotonic()
        threads = [threading.Thread(target=flood, args=(url, FLOOD // THREADS, statuses, lock)) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        # While the address is over its refusal rate, a real key from the same address still reports.
        accepted = requests.get(f"{url}/api/v1/ping/{key}/{CRON_JOB}", params={"run_id": "amid"}, timeout=30)
        for thread in threads:
            thread.join(timeout=300)
        elapsed_s = time.monotonic() - started
        cpu_us = (cpu_s(process.pid) - cpu_before) / FLOOD * 1e6
        assert not any(thread.is_alive() for thread in threads)
        took = f"{elapsed_s:.1f} s, intake CPU {cpu_us:.0f} us each"
        print(f"{FLOOD} bogus requests on {THREADS} keep-alive connections: {took}; {dict(statuses)}")
        assert accepted.status_code == 202, accepted.text
        assert sum(statuses.values()) == FLOOD
        assert set(statuses) <= {401, 404, 429}, statuses
        assert statuses[429] > FLOOD // 2, "past its burst, the address's refusals are bare 429s"

        def all_counted() -> list[Any] | None:
            rows = [row for row in rejection_rows(db) if row.task.startswith("intake")]
            return rows if sum(map(refusals_in, rows)) >= FLOOD else None

        rows = wait_for(all_counted, timeout_s=30, what="every refusal counted")
        lines = log_lines(log_path)[before:]
    print(f"{len(rows)} rows, {len(lines)} log lines")
    assert sum(map(refusals_in, rows)) == FLOOD
    # A row and a line per status, endpoint and key per second, and no more: here three of them
    # (401 on each endpoint and 404 for the path, all anonymous), a few dozen rows for the flood.
    seconds = int(elapsed_s) + 2
    assert len(rows) <= 3 * seconds, len(rows)
    assert len(lines) <= 3 * seconds + 5, lines[:20]
    assert not any("ERROR" in line for line in lines), [line for line in lines if "ERROR" in line][:5]
    for row in rows:
        assert BOGUS_KEY not in row.excerpt and BOGUS_KEY not in row.reason
    assert all(BOGUS_KEY not in line for line in lines)


@pytest.fixture
def silent_broker() -> Iterator[int]:
    """A port that takes connections and never answers, like a stalled broker: the intake's
    publisher waits out its timeout on every group."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()
    for conn in held:
        conn.close()


def test_a_full_queue_answers_503_at_once(
    relops_env: dict[str, str],
    config_path: Path,
    silent_broker: int,
    output_dir: Path,
    tmp_path: Path,
    clean_tables: None,
) -> None:
    """With the broker stalled, reports wait for it up to [intake] max_queued_reports; the rest are
    answered 503 (field "intake", Retry-After) without waiting, and none is answered 202."""
    config = tmp_path / "relops-intake.toml"
    config.write_text(config_path.read_text() + "\n[intake]\nmax_queued_reports = 10\n")
    key = new_key("--scope", "cron")
    env = {**relops_env, "RELOPS_CONFIG": str(config), "CELERY_BROKER_URL": f"redis://127.0.0.1:{silent_broker}/0"}
    with running_intake(env, output_dir / "intake-queue.log") as url:

        def ping(i: int) -> tuple[int, dict[str, Any], float]:
            started = time.monotonic()
            answer = requests.get(f"{url}/api/v1/ping/{key}/{CRON_JOB}", params={"run_id": f"q-{i}"}, timeout=30)
            return (
                answer.status_code,
                {**answer.json(), "retry_after": answer.headers.get("Retry-After")},
                time.monotonic() - started,
            )

        with ThreadPoolExecutor(max_workers=60) as pool:
            answers = list(pool.map(ping, range(60)))
    full = [(body, took) for status, body, took in answers if status == 503 and body["field"] == "intake"]
    assert not [a for a in answers if a[0] == 202], "a stalled broker took nothing"
    assert len(full) >= 30, Counter((status, body.get("field")) for status, body, _ in answers)
    assert all(int(body["retry_after"]) >= 1 for body, _ in full)
    assert min(took for _, took in full) < 1.0, "refused without waiting for the broker"
    print(json.dumps(Counter(f"{status} {body.get('field')}" for status, body, _ in answers)))
