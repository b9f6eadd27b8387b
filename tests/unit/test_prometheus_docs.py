"""docs/guides/prometheus.md says what the code and the tests do: its scrape config is the one the
Prometheus test runs, its Alertmanager route the one the Alertmanager tests run, its Grafana files
exist, and its table lists every series /metrics exposes, and only those. (The Alertmanager-in
configs are held to their test by tests/integration/test_alertmanager_in.py.)"""

from __future__ import annotations

import re
from pathlib import Path

from relops.application.metrics import metric_families
from relops.config import parse_config
from relops.metrics.facts import Facts, FlowFacts
from relops.timeutil import utcnow
from tests.support.alertmanager import ROUTE_CONFIG
from tests.support.prometheus import SCRAPE_CONFIGS

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "prometheus.md"


def test_the_scrape_config_shown_is_the_one_the_tests_run():
    shown = SCRAPE_CONFIGS.format(
        interval="30s",
        key_file="/etc/prometheus/relops-metrics-key",
        relops_web="127.0.0.1:8080",
        flower_user="relops",
        flower_password_file="/etc/prometheus/flower-password",
        flower="127.0.0.1:5555",
    )
    assert f"```yaml\n{shown}```" in GUIDE.read_text()


def test_the_alertmanager_route_shown_is_the_one_the_tests_run():
    assert f"```yaml\n{ROUTE_CONFIG.format(webhook_url='http://127.0.0.1:PORT/alertmanager-hook')}```" in (
        GUIDE.read_text()
    )


def test_the_grafana_files_the_guide_names_exist():
    root = GUIDE.parents[2]
    named = set(re.findall(r"`(docs/grafana/[\w/.-]+)`", GUIDE.read_text()))
    assert {"docs/grafana/relops.json", "docs/grafana/provisioning/dashboards/relops.yaml"} <= named
    assert all((root / path).is_file() for path in named), named


def test_every_series_is_documented_and_every_documented_series_exists():
    config = parse_config({"flows": [{"name": "a", "objective_percent": 99}]}, "t.toml")
    exposed = set()
    now = utcnow()
    facts = Facts(
        flows={"a": FlowFacts(now, "ok", 1.0, None, 1, 0, {})},
        last_tick_at=now,
        queues={"cron": 0},
        broker_answered=True,
    )
    for family in metric_families(config, facts, ["webhook"]):
        suffix = {"counter": "_total", "info": "_info"}.get(family.type, "")
        exposed.add(family.name + suffix)
    table = [line for line in GUIDE.read_text().splitlines() if line.startswith("| `relops_")]
    documented = {name for line in table for name in re.findall(r"`(relops_[a-z_]+)`", line.split("|")[1])}
    assert exposed == documented
