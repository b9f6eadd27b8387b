"""GET /metrics against real servers: a real Prometheus (Debian's, installed when missing) scrapes a
real `relops web` with a metrics key from a credentials file, and Flower's own /metrics, while the
run's database holds a flow's evaluation, a job's runs, an incident, a silence, the outbox and the
intake's totals; the values are read back through Prometheus' HTTP API. Then who may read it: a
metrics key reads /metrics and nothing else, no other credential reads /metrics, and the intake's
counters never drop when retention prunes."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
import requests
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from relops import names, redis_keys
from relops.access.report_keys import hash_key
from relops.cli import cli
from relops.slo.retention import horizons
from relops.store.retention import prune
from relops.timeutil import floor_minute, utcnow
from relops.wiring import get_config
from tests.integration.conftest import TEST_CONFIG, run_cli, wait_for
from tests.support.celery_process import CeleryProcess
from tests.support.prometheus import SCRAPE_CONFIGS, Prometheus, serving_prometheus
from tests.support.servers import running_flower
from tests.web_support import new_user, running_server, running_web

pytestmark = pytest.mark.integration

FLOWER_USER = "flower"
FLOWER_PASSWORD = secrets.token_urlsafe(12)
SCRAPE_INTERVAL = "1s"
#: Long enough for Prometheus to start, scrape twice and evaluate; polled, so usually a few seconds.
ARRIVAL_TIMEOUT_S = 60


def new_key(*options: str) -> tuple[str, str]:
    """(name, key) of a key made by `relops keys add` (in this process)."""
    name = f"k-{uuid.uuid4().hex[:6]}"
    return name, run_cli("keys", "add", name, *options).strip().splitlines()[-1]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def metrics_key(relops_env: dict[str, str]) -> tuple[str, str]:
    return new_key("--scope", "metrics")


@pytest.fixture(scope="module")
def sloth_web(relops_env: dict[str, str], output_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `relops web` on the run's config with Sloth's series turned on."""
    config = tmp_path_factory.mktemp("metrics") / "relops-metrics.toml"
    config.write_text(
        TEST_CONFIG.format(tick_interval_s=300) + '\n[metrics]\nsloth_compatible = true\nsloth_service = "shop"\n'
    )
    env = {**relops_env, "RELOPS_CONFIG": str(config)}
    with running_web(env, output_dir / "metrics-web.log") as (url, _):
        yield url


@pytest.fixture(scope="module")
def flower(relops_env: dict[str, str], output_dir: Path, run_id: str) -> Iterator[str]:
    """Flower as the Procfile runs it (basic auth), on this run's broker."""
    log = output_dir / f"metrics-flower-{run_id}.log"
    with running_flower(relops_env, log, f"{FLOWER_USER}:{FLOWER_PASSWORD}") as url:
        yield url


@pytest.fixture(scope="module")
def prometheus(
    sloth_web: str, flower: str, metrics_key: tuple[str, str], output_dir: Path, run_id: str
) -> Iterator[Prometheus]:
    """A real Prometheus scraping that `relops web` (its metrics key in a file only the run reads) and
    Flower, every second, with the scrape config the docs show."""
    # Absolute: Prometheus reads a relative credentials file from beside its config file.
    workdir = (output_dir / f"prometheus-{run_id}").resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    key_file = workdir / "relops-metrics-key"
    key_file.write_text(metrics_key[1] + "\n")
    key_file.chmod(0o600)
    password_file = workdir / "flower-password"
    password_file.write_text(FLOWER_PASSWORD + "\n")
    password_file.chmod(0o600)
    config = f"global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  evaluation_interval: {SCRAPE_INTERVAL}\n\n" + (
        SCRAPE_CONFIGS.format(
            interval=SCRAPE_INTERVAL,
            key_file=key_file,
            relops_web=sloth_web.removeprefix("http://"),
            flower_user=FLOWER_USER,
            flower_password_file=password_file,
            flower=flower.removeprefix("http://"),
        )
    )
    with serving_prometheus(workdir, config) as prom:
        yield prom


#: The panels of Sloth's detail dashboard (grafana.com 14348) that docs/guides/prometheus.md lists,
#: their queries with {slo} for its service and slo variables, and what each gives for the seeded
#: flow: the SLI on relops' 1h window and on Sloth's default 5m (no such window: a flat 100 %), the
#: current burn rate, the 30d budget left, and the alert stats that never fire (no ALERTS series).
PANELS = (
    ("1 - (max(slo:sli_error:ratio_rate1h{{slo}}) OR on() vector(0))", 1 - 40 / 2000),
    ("1 - (max(slo:sli_error:ratio_rate5m{{slo}}) OR on() vector(0))", 1.0),
    ("slo:objective:ratio{{slo}}", 0.999),
    ("slo:current_burn_rate:ratio{{slo}} or on() vector(0)", (40 / 2000) / (1 - 0.999)),
    ("slo:current_burn_rate:ratio{{slo}} > 0", (40 / 2000) / (1 - 0.999)),
    ("slo:period_error_budget_remaining:ratio{{slo}} or on() vector(1)", 1 - (300 / 400_000) / (1 - 0.999)),
    ('max(ALERTS{{slo}, sloth_severity="ticket"}) OR on() vector(0)', 0.0),
    ('max(ALERTS{{slo}, sloth_severity="page"}) or on() vector(0)', 0.0),
)


def seed(db: Engine, client: redis.Redis) -> dict[str, Any]:
    """One flow's evaluation, a job with runs, an incident, a silence, the outbox, the intake's totals
    and a breaker: the numbers the test then reads back through Prometheus."""
    now = utcnow()
    evaluated_at = floor_minute(now) + timedelta(minutes=1)
    windows = [
        {"window": "1h", "window_s": 3600, "events": 2000, "errors": 40, "burn_rate": 20.0, "status": "critical"},
        {"window": "6h", "window_s": 21600, "events": 9000, "errors": 45, "burn_rate": 5.0, "status": "warning"},
    ]
    started = now - timedelta(minutes=30)
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops_burn_rate_snapshots (flow, evaluated_at, severity, objective_percent, "
                "budget_remaining, time_to_exhaustion_s, period_events, period_errors, windows, excluded_events, "
                "excluded_errors, budget_remaining_uncorrected) VALUES ('checkout', :at, 'critical', 99.9, 0.25, "
                "5400, 400000, 300, CAST(:windows AS jsonb), 1000, 100, 0.1)"
            ),
            {"at": evaluated_at, "windows": json.dumps(windows)},
        )
        conn.execute(
            text("INSERT INTO ops_evaluation_ticks (slot, as_of, flows, chunks) VALUES (:slot, :at, 9, 5)"),
            {"slot": floor_minute(now), "at": evaluated_at},
        )
        conn.execute(
            text(
                "INSERT INTO ops_cron_jobs (name, state, next_deadline, consecutive_failures) "
                "VALUES ('nightly-export', 'failing', :deadline, 2)"
            ),
            {"deadline": now + timedelta(hours=1)},
        )
        conn.execute(
            text(
                "INSERT INTO ops_cron_executions (name, run_id, status, started_at, finished_at, duration_ms) VALUES "
                "('nightly-export', 'a', 'success', :s1, :f1, 60000), "
                "('nightly-export', 'b', 'failure', :s2, :f2, 90000)"
            ),
            {
                "s1": started - timedelta(hours=2),
                "f1": started - timedelta(hours=2) + timedelta(seconds=60),
                "s2": started,
                "f2": started + timedelta(seconds=90),
            },
        )
        incident = conn.execute(
            text(
                "INSERT INTO ops_incidents (fingerprint, status, severity, source, title, first_seen, last_seen, "
                "opened_at, occurrences, last_event, labels) VALUES ('slo:payments', 'open', 'critical', 'slo', "
                "'t', :now, :now, :now, 1, '{}', CAST(:labels AS jsonb)) RETURNING id"
            ),
            {"now": now, "labels": json.dumps({"team": "a", "flow": "payments"})},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO ops_silences (matchers, starts_at, ends_at, reason, created_by, created_via) VALUES "
                "(CAST(:m AS jsonb), :start, :end, 'test', 'tester', 'cli')"
            ),
            {
                "m": json.dumps([{"name": "flow", "op": "=", "value": "login"}]),
                "start": now,
                "end": now + timedelta(hours=1),
            },
        )
        conn.execute(
            text(
                "INSERT INTO ops_notifications (incident_id, channel, receiver, kind, severity, payload, status) "
                "VALUES (:id, 'webhook', 'team-a', 'firing', 'critical', '{}', 'pending')"
            ),
            {"id": incident},
        )
        conn.execute(
            text(
                "INSERT INTO ops_dead_letters (channel, receiver, message_key, notifications, attempts, reason, "
                "alerts) VALUES ('email', 'email', :key, 1, 3, 'gone', '[]')"
            ),
            {"key": uuid.uuid4().hex},
        )
        conn.execute(
            text(
                "INSERT INTO ops_intake_totals (endpoint, status, requests) VALUES ('outcomes', 202, 1500), "
                "('cron', 401, 3)"
            )
        )
    transition_ms = int((now - timedelta(minutes=5)).timestamp() * 1000)
    client.hset(
        redis_keys.breaker("inventory")[0],
        mapping={"state": "open", "failures": 2, "last_transition": transition_ms, "generation": 1},
    )
    return {"evaluated_at": evaluated_at, "started": started, "transition_ms": transition_ms}


def one_value(prometheus: Prometheus, promql: str) -> float:
    """The single sample ``promql`` returns, once Prometheus has it."""
    found = wait_for(lambda: prometheus.query(promql), timeout_s=ARRIVAL_TIMEOUT_S, what=promql)
    assert len(found) == 1, found
    return float(found[0]["value"][1])


def test_prometheus_scrapes_relops_and_flower_and_gets_the_values(
    prometheus: Prometheus, db: Engine, redis_url: str, metrics_key: tuple[str, str], clean_tables: None
) -> None:
    client = redis.Redis.from_url(redis_url)
    seeded = seed(db, client)
    client.close()

    health: dict[str, tuple[str, str]] = {}

    def both_up() -> bool:
        health.update({t["labels"]["job"]: (t["health"], t.get("lastError", "")) for t in prometheus.targets()})
        return health.get("relops", ("",))[0] == "up" and health.get("flower", ("",))[0] == "up"

    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    while not both_up() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert both_up(), f"scrape targets not up: {health}"

    flow = '{job="relops",flow="checkout"'
    # The burn rate only exists once the seeded snapshot has been scraped: wait on it, then read.
    assert one_value(prometheus, f'relops_flow_burn_rate_ratio{flow},window="1h"}}') == 20.0
    assert one_value(prometheus, f'relops_flow_burn_rate_ratio{flow},window="6h"}}') == 5.0
    assert one_value(prometheus, f'relops_flow_window_events{flow},window="1h"}}') == 2000
    assert one_value(prometheus, f'relops_flow_window_errors{flow},window="6h"}}') == 45
    assert one_value(prometheus, f'relops_flow_window_events{flow},window="24h"}}') == 0
    assert one_value(prometheus, f"relops_flow_error_budget_remaining_ratio{flow}}}") == 0.25
    assert one_value(prometheus, f"relops_flow_error_budget_remaining_uncorrected_ratio{flow}}}") == 0.1
    assert one_value(prometheus, f'relops_flow_severity{flow},severity="critical"}}') == 2
    assert one_value(prometheus, f"relops_flow_objective_ratio{flow}}}") == pytest.approx(0.999)
    assert one_value(prometheus, f"relops_flow_period_seconds{flow}}}") == 30 * 86400
    assert one_value(prometheus, 'relops_flow_severity{flow="login"}') == 0  # never evaluated: no_data
    assert one_value(prometheus, 'relops_flow_info{flow="payments",team="a"}') == 1
    # Staleness is alertable: the newest tick and evaluation.
    assert one_value(prometheus, "relops_last_evaluation_timestamp_seconds") == seeded["evaluated_at"].timestamp()
    assert one_value(prometheus, "time() - relops_last_tick_timestamp_seconds") < 300

    assert one_value(prometheus, 'relops_job_state{job_name="nightly-export",state="failing"}') == 2
    assert one_value(prometheus, 'relops_job_consecutive_failures{job_name="nightly-export"}') == 2
    assert one_value(prometheus, 'relops_job_last_duration_seconds{job_name="nightly-export"}') == 90
    assert one_value(prometheus, 'relops_job_last_start_timestamp_seconds{job_name="nightly-export"}') == (
        pytest.approx(seeded["started"].timestamp(), abs=0.001)
    )
    assert one_value(prometheus, 'relops_breaker_state{dependency="inventory",state="open"}') == 1
    assert one_value(prometheus, 'relops_breaker_failures{dependency="inventory"}') == 2
    assert one_value(prometheus, 'relops_breaker_last_transition_timestamp_seconds{dependency="inventory"}') == (
        seeded["transition_ms"] / 1000
    )
    assert one_value(prometheus, 'relops_unresolved_incidents{status="open",severity="critical",team="a"}') == 1
    assert one_value(prometheus, 'relops_silences{state="active"}') == 1
    assert one_value(prometheus, 'relops_undelivered_notifications{receiver="team-a",status="pending"}') == 1
    assert one_value(prometheus, 'relops_dead_letters_total{receiver="email"}') == 1
    assert one_value(prometheus, 'relops_intake_requests_total{endpoint="outcomes",status="202"}') == 1500
    assert one_value(prometheus, f'relops_metrics_scrapes_total{{key="{metrics_key[0]}"}}') >= 1
    # The broker's queues, read at each scrape: every relops queue, idle here (nothing stays waiting).
    assert one_value(prometheus, "relops_broker_up") == 1
    queues = {s["metric"]["queue"] for s in prometheus.query("relops_queue_messages")}
    assert set(names.ALL_QUEUES) <= queues

    # Sloth's series, as its dashboards query them.
    sloth = 'sloth_service="shop",sloth_slo="checkout"'
    assert one_value(prometheus, f"slo:sli_error:ratio_rate1h{{{sloth}}}") == 40 / 2000
    assert one_value(prometheus, f"slo:sli_error:ratio_rate30d{{{sloth}}}") == 300 / 400_000
    assert one_value(prometheus, f"slo:current_burn_rate:ratio{{{sloth}}}") == pytest.approx(
        (40 / 2000) / 0.001, rel=1e-9
    )
    assert one_value(prometheus, f"slo:period_error_budget_remaining:ratio{{{sloth}}}") == pytest.approx(
        1 - (300 / 400_000) / 0.001, rel=1e-9
    )
    assert one_value(prometheus, f'sloth_slo_info{{{sloth},sloth_id="shop-checkout",sloth_objective="99.9"}}') == 1

    # The variables of Sloth's detail dashboard (grafana.com 14348) find the flows, and its panels'
    # queries answer as docs/guides/prometheus.md says.
    def label_values(label: str, match: str) -> list[str]:
        response = requests.get(prometheus.url + f"/api/v1/label/{label}/values", params={"match[]": match}, timeout=10)
        return response.json()["data"]

    assert label_values("sloth_service", "slo:objective:ratio") == ["shop"]
    assert "checkout" in label_values("sloth_slo", 'slo:objective:ratio{sloth_service="shop"}')
    panel = 'sloth_service="shop", sloth_slo="checkout"'
    for promql, expected in PANELS:
        found = prometheus.query(promql.replace("{slo}", panel))
        assert [float(sample["value"][1]) for sample in found] == pytest.approx([expected], rel=1e-9), promql
    assert any(s["metric"]["sloth_id"] == "shop-checkout" for s in prometheus.query("slo:current_burn_rate:ratio > 1"))
    # Sloth's UI: its SLOs, their windows (from the metric names), periods, burn rates, budgets.
    assert "shop-checkout" in {s["metric"]["sloth_id"] for s in prometheus.query('sloth_slo_info{sloth_id!=""}')}
    windows = prometheus.query('count({__name__=~"^slo:sli_error:ratio_rate.*"}) by (__name__, sloth_id)')
    assert {s["metric"]["__name__"] for s in windows if s["metric"]["sloth_id"] == "shop-checkout"} == {
        f"slo:sli_error:ratio_rate{window}" for window in ("1h", "6h", "1d", "30d")
    }
    for promql in (
        'max(slo:time_period:days{sloth_id!=""}) by (sloth_id)',
        'slo:period_error_budget_remaining:ratio{sloth_id!=""}',
    ):
        assert "shop-checkout" in {s["metric"]["sloth_id"] for s in prometheus.query(promql)}, promql

    # Flower's own task metrics arrive, its basic auth sent.
    assert wait_for(
        lambda: prometheus.query('up{job="flower"} == 1'), timeout_s=ARRIVAL_TIMEOUT_S, what="flower scraped"
    )


#: What Grafana puts in a query before it sends it: the dashboard's flow variable, and its rate
#: interval (at least four scrape intervals; a scrape a second here).
GRAFANA_VARIABLES = {"$flow": "checkout", "$__rate_interval": "30s"}


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query in docs/grafana/relops.json, variables filled in."""
    board = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana" / "relops.json").read_text())
    found = []
    for panel in board["panels"]:
        for target in panel.get("targets", ()):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found.append((panel["title"], expr))
    return found


def test_every_grafana_panel_query_parses_and_returns_series(
    prometheus: Prometheus,
    producer: Any,
    worker: CeleryProcess,
    db: Engine,
    redis_url: str,
    clean_tables: None,
) -> None:
    """docs/grafana/relops.json against the real Prometheus scraping a real `relops web` (with a
    flow's evaluation, a job, a breaker, an incident, a silence, the outbox and the intake's totals)
    and Flower watching the run's worker run tasks: every panel's query is valid PromQL and answers
    with at least one series."""
    client = redis.Redis.from_url(redis_url)
    seed(db, client)
    client.close()
    # Tasks for Flower to see run: cron events for a job the config does not monitor, which the
    # worker takes, refuses (counted) and finishes.
    for run in range(3):
        producer.send_task(
            names.TASK_CRON_RUN,
            kwargs={"job": "not-monitored", "status": "success", "run_id": str(run)},
            queue=names.QUEUE_CRON,
        )
    board = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana" / "relops.json").read_text())
    flow_variable = next(v for v in board["templating"]["list"] if v["name"] == "flow")
    metric = flow_variable["query"]["query"].removeprefix("label_values(").split(",")[0]
    flows = wait_for(
        lambda: requests.get(
            prometheus.url + "/api/v1/label/flow/values", params={"match[]": metric}, timeout=10
        ).json()["data"],
        timeout_s=ARRIVAL_TIMEOUT_S,
        what="the flow variable's values",
    )
    assert "checkout" in flows

    queries = dashboard_queries()
    assert len(queries) >= 40
    deadline = time.monotonic() + ARRIVAL_TIMEOUT_S
    empty: list[tuple[str, str]] = []
    for title, promql in queries:
        # A query Prometheus cannot parse fails here at once (400): prometheus.query raises.
        while not (found := prometheus.query(promql)) and time.monotonic() < deadline:
            time.sleep(0.5)
        if not found:
            empty.append((title, promql))
    assert not empty, f"panel queries without a series: {empty}"


def test_flower_checks_its_password_everywhere_but_on_its_metrics(flower: str) -> None:
    """What docs/guides/prometheus.md says of Flower's /metrics, held to Flower as installed: its
    handler asks for no user, so the password the scrape config sends is not checked there."""
    assert requests.get(flower + "/api/tasks", timeout=10).status_code == 401
    assert requests.get(flower + "/metrics", timeout=10).status_code == 200
    assert requests.get(flower + "/metrics", auth=(FLOWER_USER, FLOWER_PASSWORD), timeout=10).status_code == 200


def test_only_a_metrics_key_reads_metrics_and_it_reads_nothing_else(
    sloth_web: str, metrics_key: tuple[str, str], relops_env: dict[str, str], db: Engine
) -> None:
    _, key = metrics_key
    _, report_key = new_key("--scope", "outcomes,cron")
    admin = new_user(relops_env, "admin")

    answer = requests.get(sloth_web + "/metrics", headers=bearer(key), timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "relops_flow_objective_ratio" in answer.text
    openmetrics = requests.get(
        sloth_web + "/metrics",
        headers={**bearer(key), "Accept": "application/openmetrics-text;version=1.0.0"},
        timeout=10,
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.endswith("# EOF\n")

    # Nobody else reads /metrics: no credential, a report key, a user's token (an admin's too).
    assert requests.get(sloth_web + "/metrics", timeout=10).status_code == 401
    refused = requests.get(sloth_web + "/metrics", headers=bearer(report_key), timeout=10)
    assert refused.status_code == 403
    assert "report key" in refused.text
    assert requests.get(sloth_web + "/metrics", headers=bearer(admin), timeout=10).status_code == 401
    assert requests.get(sloth_web + "/metrics", headers=bearer(key + "x"), timeout=10).status_code == 401

    # And a metrics key reads nothing but /metrics.
    for path in ("/api/v1/snapshot", "/api/v1/audit", "/", "/api/openapi.json", "/flows/checkout"):
        assert requests.get(sloth_web + path, headers=bearer(key), timeout=10).status_code == 401, path
    assert requests.post(sloth_web + "/api/v1/incidents/1/ack", headers=bearer(key), timeout=10).status_code == 401

    # One key, one kind: metrics never comes with a report scope, nor narrowed to some flows.
    for options in (["--scope", "metrics,cron"], ["--scope", "metrics", "--flows", "checkout"]):
        result = CliRunner().invoke(cli, ["keys", "add", f"x-{uuid.uuid4().hex[:6]}", *options])
        assert result.exit_code == 2, result.output

    # Made like a report key, with an audit row; revoked, it reads nothing.
    name, revoked = new_key("--scope", "metrics")
    with db.connect() as conn:
        audit = conn.execute(
            text("SELECT details FROM ops_audit WHERE action = 'key.add' AND target = :t"), {"t": f"key {name}"}
        ).scalar_one()
    assert audit["scopes"] == ["metrics"]
    assert requests.get(sloth_web + "/metrics", headers=bearer(revoked), timeout=10).status_code == 200
    run_cli("keys", "revoke", name)
    assert requests.get(sloth_web + "/metrics", headers=bearer(revoked), timeout=10).status_code == 401
    # Scrapes are counted, not audited.
    with db.connect() as conn:
        assert not conn.execute(text("SELECT count(*) FROM ops_audit WHERE action LIKE 'metrics%'")).scalar()


def test_a_metrics_key_cannot_report_and_the_intake_counters_survive_retention(
    sloth_web: str,
    metrics_key: tuple[str, str],
    relops_env: dict[str, str],
    output_dir: Path,
    db: Engine,
    worker: CeleryProcess,
    clean_tables: None,
) -> None:
    # The worker takes the accepted pings off the cron queue, so none lands in a later test's tables.
    _, key = metrics_key
    _, cron_key = new_key("--scope", "cron")
    with running_server("intake", relops_env, output_dir / "metrics-intake.log") as (intake, _):
        # A metrics key reports nothing: refused at the intake for its scope (a known key, so 403).
        refused = requests.post(intake + "/api/v1/cron/nightly-export/start", headers=bearer(key), timeout=10)
        assert refused.status_code == 403, refused.text
        assert "metrics key" in refused.text
        accepted = 0
        for _ in range(3):
            answer = requests.post(intake + "/api/v1/cron/nightly-export", headers=bearer(cron_key), timeout=10)
            accepted += answer.status_code == 202
        assert accepted == 3
        assert requests.get(intake + "/api/v1/ping/not-a-key/nightly-export", timeout=10).status_code == 401

    def exported() -> dict[tuple[str, str], float]:
        found = {}
        body = requests.get(sloth_web + "/metrics", headers=bearer(key), timeout=10).text
        for line in body.splitlines():
            if line.startswith("relops_intake_requests_total{"):
                labels, value = line.rsplit(" ", 1)
                endpoint = labels.split('endpoint="')[1].split('"')[0]
                status = labels.split('status="')[1].split('"')[0]
                found[(endpoint, status)] = float(value)
        return found

    # The intake flushed its totals once a second, and once more when it stopped.
    before = exported()
    assert before[("cron", "202")] == 3
    assert before[("cron", "403")] == 1
    assert before[("ping", "401")] == 1
    # Retention prunes the rejection rows of those refusals; the counters stay where they were.
    with db.begin() as conn:
        conn.execute(text("UPDATE ops_rejected_inputs SET received_at = received_at - interval '60 days'"))
        pruned = prune(conn, horizons(get_config(), utcnow()))
    assert pruned["ops_rejected_inputs"] >= 1
    assert exported() == before


def test_the_dashboard_checks_one_key_at_a_time_and_never_reads_the_hashes(
    database_url: str, metrics_key: tuple[str, str]
) -> None:
    """relops_web asks ops_metrics_key() about the hash it was given and learns nothing else; no
    other role may ask at all."""
    name, key = metrics_key
    url = make_url(database_url)

    def connect_as(role: str) -> psycopg.Connection:
        return psycopg.connect(host=url.host, port=url.port, dbname=url.database, user=role, autocommit=True)

    with connect_as("relops_web") as conn:
        assert conn.execute("SELECT name, scopes FROM ops_metrics_key(%s)", (hash_key(key),)).fetchall() == [
            (name, ["metrics"])
        ]
        assert conn.execute("SELECT name FROM ops_metrics_key(%s)", (hash_key(key + "x"),)).fetchall() == []
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT key_hash FROM ops_report_keys")
    outsider = f"relops_outsider_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(
        host=url.host, port=url.port, dbname=url.database, user=url.username, autocommit=True
    ) as admin:
        admin.execute(f"CREATE ROLE {outsider} LOGIN")
        try:
            with connect_as(outsider) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT name FROM ops_metrics_key(%s)", (hash_key(key),))
        finally:
            admin.execute(f"DROP ROLE {outsider}")
