"""A flow that takes its counts from Prometheus, against a real Prometheus (Debian's, installed when
missing) serving history written with exact timestamps by promtool: the minute counts relops
stores equal the counters' true increments (resets included), minutes older than the minute table
land in their hour, a re-pull overwrites instead of adding, and a Prometheus that does not answer
is noted without stopping the other flows."""

from __future__ import annotations

import dataclasses
import random
import uuid
import warnings
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from markupsafe import escape
from sqlalchemy import Engine, text

from relops import names, redis_keys
from relops.application import evaluate
from relops.application.sli_pull import pull_flow, pull_sli_sources
from relops.cli import cli
from relops.config import RelopsConfig, parse_config
from relops.config.sli_sources import PrometheusSource
from relops.settings import get_settings
from relops.slo.pull_plan import PullState
from relops.slo.retention import horizons
from relops.sources.prometheus import PrometheusReader
from relops.state.sli_pulls import load_pull, record_failure, save_progress
from relops.store.users import User
from relops.timeutil import floor_hour, floor_minute, utcnow
from relops.web.auth import Principal
from relops.web.deps import build_web_deps, current_principal
from relops.web.routes import pages
from tests.conftest import RUN_ID
from tests.integration.conftest import BrokerProducer, BrokerUnderTest, private_broker, wait_for
from tests.integration.inprocess import InProcessWorker
from tests.support.celery_process import start_worker
from tests.support.prometheus import Prometheus, create_blocks, serving_prometheus
from tests.web_support import free_port

# Starlette's test client asks for httpx2, which the lock does not carry; with httpx it works the same.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

pytestmark = pytest.mark.integration

NOW = floor_hour(utcnow()) + timedelta(minutes=7, seconds=40)
#: Two stretches of history: one within the minute table's reach, one older than it (hours only).
RECENT_START = floor_hour(NOW) - timedelta(hours=3)
RECENT_END = RECENT_START + timedelta(hours=2)
OLD_START = floor_hour(NOW) - timedelta(hours=40)
OLD_END = OLD_START + timedelta(hours=1)
SCRAPE_S = 15
#: Each stretch's series begin this long before it.
WARM_UP = timedelta(minutes=10)
GOOD = 'sum(http_requests_total{service="checkout",code!~"5.."})'
TOTAL = 'sum(http_requests_total{service="checkout"})'
SERIES = (
    ('code="200",instance="a",service="checkout"', True),
    ('code="500",instance="a",service="checkout"', False),
    ('code="200",instance="b",service="checkout"', True),
    ('code="500",instance="c",service="search"', None),  # another service: not this flow's
)


@dataclasses.dataclass
class History:
    openmetrics: str
    #: minute -> [good, bad]: what the counters really counted, per minute, for this flow.
    minutes: dict[datetime, list[int]]


def history(seed: int = 11) -> History:
    """Counters scraped every 15 s over both stretches, with a restart (reset) of instance b in each:
    the OpenMetrics text promtool reads, and the true increments per minute."""
    generator = random.Random(seed)
    lines = ["# TYPE http_requests counter", "# HELP http_requests Requests."]
    minutes: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for labels, good in SERIES:
        for start, end in ((OLD_START, OLD_END), (RECENT_START, RECENT_END)):
            # The first sample is each series' baseline, as to Prometheus: nothing counted before it.
            moment, value = start - WARM_UP, float(generator.randint(0, 1000))
            restart = start + timedelta(minutes=50)
            first = True
            while moment <= end:
                if not first:
                    if 'instance="b"' in labels and restart <= moment < restart + timedelta(seconds=SCRAPE_S):
                        value = 0.0  # restarted; the next increment (below 20) shows as a drop
                    increment = generator.randint(0, 19)
                    value += increment
                    minute = moment.replace(second=0, microsecond=0)
                    if good is not None:
                        minutes[minute][0 if good else 1] += increment
                lines.append(f"http_requests_total{{{labels}}} {value:.0f} {moment.timestamp():.3f}")
                moment += timedelta(seconds=SCRAPE_S)
                first = False
    lines.append("# EOF")
    return History("\n".join(lines) + "\n", dict(minutes))


@pytest.fixture(scope="module")
def recorded() -> History:
    return history()


@pytest.fixture(scope="module")
def prometheus(recorded: History, output_dir: Path, run_id: str) -> Iterator[Prometheus]:
    root = (output_dir / f"prometheus-source-{run_id}").resolve()
    create_blocks(root / "data", recorded.openmetrics)
    with serving_prometheus(root, "global:\n  scrape_interval: 15s\nscrape_configs: []\n") as prom:
        yield prom


def flow_config(name: str, url_env: str) -> RelopsConfig:
    return parse_config(
        {
            "sources": {"backfill_hours_per_pull": 60, "settle_s": 30},
            "flows": [
                {
                    "name": name,
                    "objective_percent": 99.0,
                    "period_days": 2,
                    "prometheus": {"url_env": url_env, "good": GOOD, "total": TOTAL},
                }
            ],
        },
        "test.toml",
    )


def readers(url: str) -> Any:
    made: list[PrometheusReader] = []

    def reader_for(source: PrometheusSource) -> PrometheusReader:
        reader = PrometheusReader(url, timeout_s=source.timeout_s, max_response_bytes=16 * 1024 * 1024)
        made.append(reader)
        return reader

    return reader_for


def stored(db: Engine, table: str, bucket: str, flow: str) -> dict[datetime, list[int]]:
    with db.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {bucket}, good, bad FROM {table} WHERE flow = :flow ORDER BY 1"), {"flow": flow}
        ).all()
    return {row[0].astimezone(UTC): [row[1], row[2]] for row in rows}


def by_hour(minutes: dict[datetime, list[int]]) -> dict[datetime, list[int]]:
    hours: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for minute, (good, bad) in minutes.items():
        hours[floor_hour(minute)][0] += good
        hours[floor_hour(minute)][1] += bad
    return dict(hours)


def test_backfill_stores_the_true_increments_and_a_repull_overwrites(
    prometheus: Prometheus, recorded: History, inproc: InProcessWorker, db: Engine
) -> None:
    flow = f"checkout-{uuid.uuid4().hex[:6]}"
    config = flow_config(flow, "RELOPS_TEST_PROMETHEUS_URL")
    deps = dataclasses.replace(inproc.deps, config=config, now=lambda: NOW)
    assert horizons(config, NOW).minutes <= RECENT_START < horizons(config, NOW).minutes + timedelta(days=1)
    assert horizons(config, NOW).minutes >= OLD_END  # the old stretch is past the minute table

    assert pull_sli_sources(deps, readers(prometheus.url)) == {"pulled": 1, "failed": 0}

    recent = {m: c for m, c in recorded.minutes.items() if m >= RECENT_START - WARM_UP}
    minutes = stored(db, "ops_flow_minutes", "minute", flow)
    # Every minute of the recent stretch, exactly; the minutes around it have no samples: not stored.
    assert minutes == recent
    assert sum(good + bad for good, bad in recent.values()) > 10_000
    # The hours are the sums of their minutes; the old stretch's hour is there without its minutes.
    assert stored(db, "ops_flow_hours", "hour", flow) == by_hour(recorded.minutes)
    days = stored(db, "ops_flow_days", "day", flow)
    assert sum(good for good, _ in days.values()) == sum(good for good, _ in recorded.minutes.values())
    assert sum(bad for _, bad in days.values()) == sum(bad for _, bad in recorded.minutes.values())
    state, health = load_pull(inproc.redis, flow)
    assert state.backfill_until is None and health.failing_since is None

    # Pulled again from scratch (its progress lost): the same counts, not twice them.
    inproc.redis.delete(redis_keys.sli_source(flow))
    assert pull_sli_sources(deps, readers(prometheus.url)) == {"pulled": 1, "failed": 0}
    assert stored(db, "ops_flow_minutes", "minute", flow) == recent
    assert stored(db, "ops_flow_hours", "hour", flow) == by_hour(recorded.minutes)
    assert stored(db, "ops_flow_days", "day", flow) == days


def test_a_prometheus_that_does_not_answer_is_no_data_and_a_warning_until_it_answers(
    prometheus: Prometheus, recorded: History, inproc: InProcessWorker, db: Engine
) -> None:
    flow = f"checkout-{uuid.uuid4().hex[:6]}"
    config = flow_config(flow, "RELOPS_TEST_PROMETHEUS_URL")
    password = uuid.uuid4().hex
    nowhere = f"http://relops:{password}@127.0.0.1:{free_port()}"

    def at(seconds: float) -> Any:
        return dataclasses.replace(inproc.deps, config=config, now=lambda: NOW + timedelta(seconds=seconds))

    def incident() -> tuple[str, str] | None:
        with db.connect() as conn:
            row = conn.execute(
                text("SELECT status, title FROM ops_incidents WHERE fingerprint = :f"), {"f": f"sli_source:{flow}"}
            ).first()
        return None if row is None else (row[0], row[1])

    # A first failure is noted, not raised: a blip only delays the counts.
    assert pull_sli_sources(at(0), readers(nowhere)) == {"pulled": 0, "failed": 1}
    _, health = load_pull(inproc.redis, flow)
    assert health.failing_since == NOW.timestamp()
    assert "no answer from http://relops:***@127.0.0.1" in health.last_error
    assert password not in health.last_error
    assert inproc.publisher.take() == []
    # Failing for [sources] unreachable_after_s (60 s): a WARNING, and the flow is no data.
    assert pull_sli_sources(at(61), readers(nowhere)) == {"pulled": 0, "failed": 1}
    inproc.drain()
    status, title = incident() or ("", "")
    assert status == "open" and "SLI source is unreachable" in title
    as_of = floor_minute(NOW) + timedelta(minutes=1)
    evaluate.evaluate_flows(at(61), as_of, [flow])
    with db.connect() as conn:
        severity = conn.execute(
            text("SELECT severity FROM ops_burn_rate_snapshots WHERE flow = :f ORDER BY evaluated_at DESC LIMIT 1"),
            {"f": flow},
        ).scalar_one()
    assert severity == "no_data"
    assert stored(db, "ops_flow_minutes", "minute", flow) == {}

    # It answers: the counts are pulled, the warning resolves.
    assert pull_sli_sources(at(90), readers(prometheus.url)) == {"pulled": 1, "failed": 0}
    inproc.drain()
    _, health = load_pull(inproc.redis, flow)
    assert health.failing_since is None and health.last_error == ""
    assert incident() is not None and incident()[0] == "resolved"  # type: ignore[index]
    assert stored(db, "ops_flow_minutes", "minute", flow) == {
        m: c for m, c in recorded.minutes.items() if m >= RECENT_START - WARM_UP
    }


def test_one_pull_at_a_time_and_a_pull_out_of_time_leaves_the_rest_for_the_next(
    prometheus: Prometheus, recorded: History, inproc: InProcessWorker, db: Engine
) -> None:
    flow = f"checkout-{uuid.uuid4().hex[:6]}"
    deps = dataclasses.replace(inproc.deps, config=flow_config(flow, "RELOPS_TEST_PROMETHEUS_URL"), now=lambda: NOW)
    inproc.redis.set(redis_keys.sli_pull_lock(), "1", ex=60)
    try:
        assert pull_sli_sources(deps, readers(prometheus.url)) == {"pulled": 0, "failed": 0, "skipped": True}
    finally:
        inproc.redis.delete(redis_keys.sli_pull_lock())
    reader = readers(prometheus.url)(deps.config.flows[0].prometheus)
    late = pull_flow(deps, deps.config.flows[0], reader, NOW, deadline=0.0)
    assert late == {"spans": 0, "minutes": 0, "backfilling": True, "behind": True}
    assert stored(db, "ops_flow_minutes", "minute", flow) == {}
    # The next pull, in time, reads everything.
    assert pull_sli_sources(deps, readers(prometheus.url)) == {"pulled": 1, "failed": 0}
    assert stored(db, "ops_flow_hours", "hour", flow) == by_hour(recorded.minutes)


def test_a_catch_up_past_the_minute_table_sets_whole_hours(
    prometheus: Prometheus, recorded: History, inproc: InProcessWorker, db: Engine
) -> None:
    """relops was down since the middle of an hour now older than the minute table keeps: that hour
    is read whole, so its row is all of its minutes, not the half after the outage began."""
    flow = f"checkout-{uuid.uuid4().hex[:6]}"
    deps = dataclasses.replace(inproc.deps, config=flow_config(flow, "RELOPS_TEST_PROMETHEUS_URL"), now=lambda: NOW)
    save_progress(inproc.redis, flow, PullState(pulled_until=int((OLD_START + timedelta(minutes=30)).timestamp())))
    assert pull_sli_sources(deps, readers(prometheus.url)) == {"pulled": 1, "failed": 0}
    hours = stored(db, "ops_flow_hours", "hour", flow)
    assert hours[OLD_START] == by_hour(recorded.minutes)[OLD_START]


def test_config_check_asks_prometheus_about_each_query_and_names_flow_and_field(
    prometheus: Prometheus, relops_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sourced.toml"
    path.write_text(
        "[[flows]]\n"
        'name = "checkout"\n'
        "objective_percent = 99.9\n"
        'prometheus = { url_env = "RELOPS_TEST_PROMETHEUS_URL", '
        "bad = 'http_requests_total{code=~\"5((\"}', total = 'sum(http_requests_total)' }\n"
    )
    monkeypatch.setenv("RELOPS_TEST_PROMETHEUS_URL", prometheus.url)
    checked = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert checked.exit_code == 1, checked.output
    assert "flow checkout: prometheus.bad: refused:" in checked.output
    assert "flow checkout: prometheus.total: Prometheus takes it" in checked.output
    assert "refused 1 flow query" in checked.output

    assert CliRunner().invoke(cli, ["config", "check", "--offline", str(path)]).exit_code == 0
    monkeypatch.setenv("RELOPS_TEST_PROMETHEUS_URL", f"http://127.0.0.1:{free_port()}")
    unreachable = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert unreachable.exit_code == 0, unreachable.output
    assert "flow checkout: prometheus.url_env: not checked: no answer from" in unreachable.output


def test_a_worker_pulls_when_the_task_comes(
    prometheus: Prometheus, recorded: History, relops_env: dict[str, str], output_dir: Path, tmp_path: Path, db: Engine
) -> None:
    """relops.pull_sli_sources as beat sends it, run by a real worker that reads the Prometheus URL
    from the variable the flow names."""
    flow = f"checkout-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "sourced.toml"
    path.write_text(
        "[sources]\nbackfill_hours_per_pull = 60\n\n"
        f'[[flows]]\nname = "{flow}"\nobjective_percent = 99.0\nperiod_days = 2\n'
        f"prometheus = {{ url_env = \"RELOPS_TEST_PROMETHEUS_URL\", good = '{GOOD}', total = '{TOTAL}' }}\n"
    )
    broker = BrokerUnderTest("redis", relops_env["CELERY_BROKER_URL"], relops_env)
    with private_broker(broker, "sli-pull") as urls:
        env = {**relops_env, **urls, "RELOPS_CONFIG": str(path), "RELOPS_TEST_PROMETHEUS_URL": prometheus.url}
        label = f"sli-pull-{RUN_ID}"
        worker = start_worker(env, output_dir / f"{label}.log", label, names.QUEUE_INGEST, 1)
        producer = BrokerProducer(urls["CELERY_BROKER_URL"], "sli-pull-producer")
        try:
            producer.send_task(names.TASK_PULL_SLI_SOURCES, queue=names.QUEUE_INGEST)
            expected = {m: c for m, c in recorded.minutes.items() if m >= RECENT_START - WARM_UP}
            # The backfill writes the newest hours first: the oldest hour's row comes last.
            wait_for(
                lambda: stored(db, "ops_flow_hours", "hour", flow) == by_hour(recorded.minutes),
                timeout_s=60,
                what="the worker's pull stored every hour",
            )
            assert stored(db, "ops_flow_minutes", "minute", flow) == expected
            # And the task finished: its progress saved, its source noted as answering.
            wait_for(lambda: "event=sli.pulled" in worker.log_text(), timeout_s=30, what="the pull's end logged")
        finally:
            producer.close()
            worker.stop()


def test_the_flow_page_and_the_dashboard_say_where_the_counts_come_from(
    relops_env: dict[str, str], inproc: InProcessWorker, clean_tables: None
) -> None:
    flow, traced = f"checkout-{uuid.uuid4().hex[:6]}", f"search-{uuid.uuid4().hex[:6]}"
    built = build_web_deps(get_settings())
    config = flow_config(flow, "RELOPS_TEST_PROMETHEUS_URL")
    spans = {"service": "search-api", "bad_when": ["http.response.status_code >= 500"]}
    traced_flow = parse_config({"flows": [{"name": traced, "objective_percent": 99.0, "spans": spans}]}, "t.toml")
    deps = dataclasses.replace(built, config=config.model_copy(update={"flows": (*config.flows, *traced_flow.flows)}))
    record_failure(inproc.redis, flow, NOW.timestamp(), "no answer from http://prometheus:9090/api/v1/query")
    app = FastAPI()
    app.state.deps = deps
    app.include_router(pages.router)
    app.dependency_overrides[current_principal] = lambda: Principal(User(id=0, name="page-admin", role="admin"), "api")
    try:
        with TestClient(app) as client:
            page = client.get(f"/flows/{flow}")
            traced_page = client.get(f"/flows/{traced}")
            dashboard = client.get("/")
    finally:
        built.engine.dispose()
    assert page.status_code == 200
    assert "Counts from Prometheus (<code>RELOPS_TEST_PROMETHEUS_URL</code>)" in page.text
    assert "source failing" in page.text and "no answer from http://prometheus:9090" in page.text
    assert str(escape(GOOD)) in page.text  # as Jinja escapes it
    assert "from Prometheus" in dashboard.text and "from OpenTelemetry spans" in dashboard.text
    assert "Counts from OpenTelemetry spans" in traced_page.text and "search-api" in traced_page.text
