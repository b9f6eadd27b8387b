"""``python -m bench metrics``: a Prometheus scrape of `GET /metrics` for 10,000 flows against the
dashboard's plain JSON snapshot read (`GET /api/v1/snapshot`) of the same data, from one `relops web`
process in the same run.

10,000 flows with 15 minutes of evaluations each (150,000 snapshot rows, each with its three windows),
50 jobs with runs, open incidents and pending notifications. The scrape is timed as Prometheus makes
it (OpenMetrics asked for, gzip accepted, a metrics key) and in the classic text format; with Sloth's
series off (the default) and on. Each figure is the median of RUNS requests made one after another,
whole responses read, over loopback (sizes are of the text, before gzip). Then the same families
written in this process by relops' writer and by prometheus_client's own, which it stands in for.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import redis
import requests
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics import exposition as openmetrics
from relops_client.breakers import BreakerRegistry
from sqlalchemy import text

from bench.stack import bench_stack, flows_config
from relops.access.report_keys import hash_key, new_key
from relops.application.metrics import metric_families, read_facts
from relops.metrics.exposition import write_openmetrics
from relops.store.report_keys import add_key
from relops.store.users import add_user
from relops.timeutil import utcnow
from relops.tokens import hash_token, new_token
from relops.wiring import load_checked_config
from tests.support.celery_process import poll_until
from tests.support.servers import free_port, stop_process

FLOWS = 10_000
JOBS = 50
SNAPSHOTS_PER_FLOW = 15
RUNS = 7
TARGET_MS = 1000
#: What Prometheus 2.42 sends.
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)


def _config(sloth: bool) -> str:
    jobs = "\n".join(f'[[jobs]]\nname = "job-{i:02d}"\nperiod_s = 3600\n' for i in range(JOBS))
    metrics = f"[metrics]\nsloth_compatible = {'true' if sloth else 'false'}\n"
    return flows_config(FLOWS, chunk_size=500, extra=metrics) + "\n" + jobs


def _seed(db) -> int:
    windows = (
        '[{"window": "1h", "window_s": 3600, "events": 1200, "errors": 3, "burn_rate": 2.5, "status": "ok"},'
        ' {"window": "6h", "window_s": 21600, "events": 7200, "errors": 9, "burn_rate": 1.25, "status": "ok"},'
        ' {"window": "24h", "window_s": 86400, "events": 28800, "errors": 20, "burn_rate": 0.6944, "status": "ok"}]'
    )
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops_burn_rate_snapshots (flow, evaluated_at, severity, objective_percent, "
                "budget_remaining, time_to_exhaustion_s, period_events, period_errors, windows) "
                "SELECT 'bench-' || lpad(i::text, 4, '0'), date_trunc('minute', now()) - make_interval(mins => e), "
                "CASE WHEN i % 50 = 0 THEN 'warning' ELSE 'ok' END, 99.9, 0.6, NULL, 864000, 345, "
                "CAST(:windows AS jsonb) FROM generate_series(0, :flows - 1) i, generate_series(0, :per - 1) e"
            ),
            {"flows": FLOWS, "per": SNAPSHOTS_PER_FLOW, "windows": windows},
        )
        conn.execute(
            text(
                "INSERT INTO ops_evaluation_ticks (slot, as_of, flows, chunks) "
                "SELECT date_trunc('minute', now()) - make_interval(mins => e), date_trunc('minute', now()), "
                ":flows, 20 FROM generate_series(0, 14) e"
            ),
            {"flows": FLOWS},
        )
        conn.execute(
            text(
                "INSERT INTO ops_cron_jobs (name, state, next_deadline, consecutive_failures) "
                "SELECT 'job-' || lpad(i::text, 2, '0'), 'ok', now() + interval '1 hour', 0 "
                "FROM generate_series(0, :jobs - 1) i"
            ),
            {"jobs": JOBS},
        )
        conn.execute(
            text(
                "INSERT INTO ops_cron_executions (name, run_id, status, started_at, finished_at, duration_ms) "
                "SELECT 'job-' || lpad(i::text, 2, '0'), r::text, 'success', now() - make_interval(hours => r), "
                "now() - make_interval(hours => r) + interval '1 minute', 60000 "
                "FROM generate_series(0, :jobs - 1) i, generate_series(1, 48) r"
            ),
            {"jobs": JOBS},
        )
        conn.execute(
            text(
                "INSERT INTO ops_incidents (fingerprint, status, severity, source, title, first_seen, last_seen, "
                "opened_at, occurrences, last_event) "
                "SELECT 'slo:bench-' || lpad(i::text, 4, '0'), 'open', 'warning', 'slo', 't', now(), now(), now(), 1, "
                "'{}' FROM generate_series(0, :flows - 1, 50) i"
            ),
            {"flows": FLOWS},
        )
        conn.execute(text("ANALYZE"))
        return int(conn.execute(text("SELECT count(*) FROM ops_burn_rate_snapshots")).scalar_one())


def _credentials(db) -> tuple[str, str]:
    """(metrics key, admin token), made as `relops keys add` and `relops users add` make them."""
    key, token = new_key(), new_token()
    with db.begin() as conn:
        add_key(
            conn,
            name="prometheus",
            key_hash=hash_key(key),
            scopes=["metrics"],
            flows=None,
            jobs=None,
            rate_per_s=100,
            burst=500,
            created_by="bench",
        )
        add_user(conn, "bench-admin", "admin", hash_token(token))
    return key, token


def _median_ms(fetch: Callable[[], requests.Response]) -> tuple[float, int]:
    """The median time of RUNS whole requests, after one to warm up; and the body's size."""
    first = fetch()
    first.raise_for_status()
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = fetch()
        response.raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), len(first.content)


def _measure(sloth: bool) -> list[str]:
    with bench_stack(_config(sloth)) as stack:
        rows = _seed(stack.db)
        key, token = _credentials(stack.db)
        port = free_port()
        log = (stack.workdir / "web.log").open("ab")
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "relops"), "web", "--port", str(port)],
            env={**os.environ, **stack.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()

        def up() -> bool:
            try:
                return requests.get(base + "/healthz", timeout=1).ok
            except requests.ConnectionError:
                return server.poll() is not None

        try:
            poll_until(up, 60, what="relops web up")

            def scrape(accept: str, encoding: str) -> Callable[[], requests.Response]:
                headers = {"Authorization": f"Bearer {key}", "Accept": accept, "Accept-Encoding": encoding}
                return lambda: session.get(base + "/metrics", headers=headers, timeout=60)

            snapshot = _median_ms(
                lambda: session.get(base + "/api/v1/snapshot", headers={"Authorization": f"Bearer {token}"}, timeout=60)
            )
            prometheus = _median_ms(scrape(PROMETHEUS_ACCEPT, "gzip"))
            classic = _median_ms(scrape("", "identity"))
            series = sum(
                1
                for line in session.get(base + "/metrics", headers=scrape_headers(key), timeout=60).text.splitlines()
                if line and not line.startswith("#")
            )
            writers = _writers(stack)
        finally:
            stop_process(server)
            log.close()
    label = "Sloth's series on" if sloth else "default"
    lines = [
        f"metrics ({label}): {FLOWS} flows, {rows} snapshot rows, {JOBS} jobs, {series} samples per scrape, "
        f"median of {RUNS} requests to one relops web",
        f"  {'GET /api/v1/snapshot (baseline, JSON)':<52} {snapshot[0]:7.1f} ms  {snapshot[1] / 1e6:5.1f} MB",
    ]
    for what, (ms, size) in (
        ("GET /metrics as Prometheus asks (OpenMetrics, gzip)", prometheus),
        ("GET /metrics, classic text, no gzip", classic),
    ):
        verdict = "within" if ms < TARGET_MS else "OVER"
        lines.append(
            f"  {what:<52} {ms:7.1f} ms  {size / 1e6:5.1f} MB  ({ms / snapshot[0]:.2f}x the snapshot read; "
            f"{verdict} {TARGET_MS} ms)"
        )
    lines.append(
        f"  the same families written in this process, median of {RUNS}: relops' writer "
        f"{writers['ours']:.0f} ms; prometheus_client's generate_latest {writers['client_openmetrics']:.0f} ms "
        f"(OpenMetrics), {writers['client_text']:.0f} ms (classic)"
    )
    return lines


def _writers(stack) -> dict[str, float]:
    """The same scrape's families written by relops' writer and by prometheus_client's own, in this
    process: what the writer saves."""
    config = load_checked_config(Path(stack.env["RELOPS_CONFIG"]))
    client = redis.Redis.from_url(stack.env["REDIS_URL"])
    breakers = BreakerRegistry(config.breaker_settings(), lambda: client)
    families = metric_families(config, read_facts(stack.db, client, config, breakers, utcnow()), ["webhook"])
    client.close()

    class Families:
        def collect(self) -> list:
            return families

    def median(write: Callable[[], bytes]) -> float:
        samples = []
        for _ in range(RUNS):
            started = time.perf_counter()
            write()
            samples.append((time.perf_counter() - started) * 1000)
        return statistics.median(samples)

    return {
        "ours": median(lambda: write_openmetrics(families)),
        "client_text": median(lambda: generate_latest(Families())),
        "client_openmetrics": median(lambda: openmetrics.generate_latest(Families(), escaping=openmetrics.ALLOWUTF8)),
    }


def scrape_headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", "Accept-Encoding": "identity"}


def run() -> list[str]:
    return [*_measure(sloth=False), *_measure(sloth=True)]
