"""A Prometheus-sourced flow against a real Prometheus scraping, every second, an exporter whose
counters the test drives, minute by minute: the minutes relops stores equal the increments driven
in them, through an exporter restart (a counter reset) and a Prometheus restart; and the outage
driven into them reaches the severity relops' burn-rate math gives for those counts."""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from relops.application import evaluate
from relops.application.sli_pull import pull_sli_sources
from relops.config import RelopsConfig, parse_config
from relops.config.sli_sources import PrometheusSource
from relops.slo.burnrate import Counts
from relops.slo.evaluation import evaluate_chunk
from relops.slo.spans import FlowCounts
from relops.sources.prometheus import PrometheusReader
from relops.timeutil import floor_minute, utcnow
from tests.integration.conftest import wait_for
from tests.integration.inprocess import InProcessWorker
from tests.support.prometheus import CounterExporter, Prometheus, serving_prometheus

pytestmark = pytest.mark.integration

METRIC = "shop_requests_total"
#: A step is made only this early in its minute, so the scrapes that see it fall in the same minute.
LAST_STEP_SECOND = 45
#: A Prometheus restart takes seconds (it replays its write-ahead log): it starts this early.
RESTART_LATEST_SECOND = 20


@pytest.fixture
def exporter() -> Iterator[CounterExporter]:
    with CounterExporter(METRIC, ("200", "500")) as running:
        yield running


@pytest.fixture
def prometheus(exporter: CounterExporter, output_dir: Path) -> Iterator[Prometheus]:
    root = (output_dir / f"prometheus-live-{uuid.uuid4().hex[:6]}").resolve()
    config = (
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
        f"scrape_configs:\n  - job_name: shop\n    static_configs:\n      - targets: ['{exporter.target}']\n"
    )
    with serving_prometheus(root, config) as prom:
        yield prom


class Driver:
    """Drives the exporter in steps, each one seen by Prometheus before the next, and keeps what was
    driven per minute: the truth the stored minutes must equal."""

    def __init__(self, exporter: CounterExporter) -> None:
        self.exporter = exporter
        self.driven: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])

    def scraped_after(self, before: int) -> None:
        # Two more scrapes: at least one of them started after the change.
        wait_for(lambda: self.exporter.scrapes >= before + 2, timeout_s=60, what="Prometheus scraped the change")

    def early_in_a_minute(self, latest_second: int = LAST_STEP_SECOND) -> None:
        """Wait, if need be, for the next minute's second 2."""
        now = utcnow()
        if now.second >= latest_second:
            time.sleep(60 - now.second - now.microsecond / 1e6 + 2)  # pacing to a clock second, not an outcome

    def step(self, good: int = 0, bad: int = 0, *, restart: bool = False) -> None:
        self.early_in_a_minute()
        started = utcnow()
        before = self.exporter.scrapes
        if restart:
            self.exporter.restart()
        self.exporter.add("200", good)
        self.exporter.add("500", bad)
        self.scraped_after(before)
        minute = floor_minute(started)
        assert floor_minute(utcnow()) == minute, "a step spilled into the next minute"
        self.driven[minute][0] += good
        self.driven[minute][1] += bad


def flow_config(flow: str) -> RelopsConfig:
    return parse_config(
        {
            "sources": {"settle_s": 2, "backfill_hours_per_pull": 30},
            "flows": [
                {
                    "name": flow,
                    "objective_percent": 99.0,
                    "period_days": 1,
                    "prometheus": {
                        "url_env": "RELOPS_TEST_PROMETHEUS_URL",
                        "bad": f'sum({METRIC}{{code=~"5.."}})',
                        "total": f"sum({METRIC})",
                    },
                }
            ],
        },
        "test.toml",
    )


def test_driven_minutes_are_stored_exactly_through_restarts_and_the_outage_pages(
    exporter: CounterExporter, prometheus: Prometheus, inproc: InProcessWorker, db: Engine
) -> None:
    driver = Driver(exporter)
    driver.scraped_after(exporter.scrapes)  # Prometheus has the counters at 0

    # A healthy stretch, then the exporting process restarts: its counters begin again at 0.
    driver.step(good=100)
    driver.step(good=150, bad=1)
    driver.step(good=7, restart=True)  # seen as 7 below the last value: a reset, 7 counted
    driver.step(good=30)
    # Prometheus restarts (same storage) while events happen: its first scrape after sees them.
    driver.early_in_a_minute(latest_second=RESTART_LATEST_SECOND)
    started = utcnow()
    before = exporter.scrapes
    prometheus.stop()
    exporter.add("200", 40)
    exporter.add("500", 50)
    prometheus.start()
    driver.scraped_after(before)
    assert floor_minute(utcnow()) == floor_minute(started), "the restart spilled into the next minute"
    driver.driven[floor_minute(started)][0] += 40
    driver.driven[floor_minute(started)][1] += 50
    # The outage: most requests fail.
    driver.step(good=20, bad=200)
    last = max(driver.driven)
    wait_for(lambda: utcnow() >= last + timedelta(minutes=1, seconds=3), timeout_s=90, what="the last minute closed")

    flow = f"shop-{uuid.uuid4().hex[:6]}"
    config = flow_config(flow)
    now = utcnow()
    deps = dataclasses.replace(inproc.deps, config=config, now=lambda: now)

    def reader_for(source: PrometheusSource) -> PrometheusReader:
        return PrometheusReader(prometheus.url, timeout_s=source.timeout_s, max_response_bytes=1 << 24)

    assert pull_sli_sources(deps, reader_for) == {"pulled": 1, "failed": 0}
    with db.connect() as conn:
        rows = conn.execute(text("SELECT minute, good, bad FROM ops_flow_minutes WHERE flow = :f"), {"f": flow}).all()
    stored = {row[0].astimezone(UTC): [row[1], row[2]] for row in rows}
    driven = dict(driver.driven)
    assert {minute: stored.get(minute) for minute in driven} == driven
    # Every other minute Prometheus scraped saw nothing happen.
    assert all(counts == [0, 0] for minute, counts in stored.items() if minute not in driven)

    # The pipeline's severity for those minutes is what the burn-rate math gives for the driven counts.
    as_of = floor_minute(now) + timedelta(minutes=1)
    evaluate.evaluate_flows(deps, as_of, [flow])
    with db.connect() as conn:
        severity = conn.execute(
            text("SELECT severity FROM ops_burn_rate_snapshots WHERE flow = :f AND evaluated_at = :at"),
            {"f": flow, "at": as_of},
        ).scalar_one()

    def within(seconds: int) -> Counts:
        minutes = [counts for minute, counts in driven.items() if minute >= as_of - timedelta(seconds=seconds)]
        return Counts(sum(good for good, _ in minutes), sum(bad for _, bad in minutes))

    rules = config.evaluation.windows
    oracle_counts = FlowCounts(
        windows={rule.name: within(rule.window_s) for rule in rules},
        confirms={rule.name: within(rule.confirm_window_s) for rule in rules if rule.confirm_window_s},
        period=within(config.flows[0].period_s),
    )
    ((_, oracle),) = evaluate_chunk(config.flows, {flow: oracle_counts}, config.evaluation)
    assert severity == oracle.severity.value == "critical"
