"""Prometheus' alerts as relops incidents, end to end with real servers: a test exporter serving a
gauge → a real Prometheus (Debian's 2.42) evaluating an alerting rule → a real Alertmanager (Debian's
0.25) whose webhook posts to a real `relops intake` with a report key of scope ``alerts`` → real
Celery workers → a relops route → a local webhook receiver (HttpSink). The exporter recovering
resolves the incident the same way. Also the endpoint's answers (200 with counts, 400, 401, 403,
413) against the same intake.

The module runs its own relops config (below) on a broker and Redis index of its own, sharing the
run's database; every process is on 127.0.0.1 and stopped by its PID.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import Engine, text

from relops import names
from relops.localdev.sink import HttpSink, SinkRequest
from tests.conftest import BASE_REDIS_URL, RUN_ID
from tests.integration.conftest import PRIVATE_STACK_CONFIG, wait_for
from tests.integration.queries import incident_row, outbox_settled
from tests.integration.test_intake import bearer, new_key, rejection_rows
from tests.support.alertmanager import Alertmanager, running_alertmanager
from tests.support.celery_process import CeleryProcess, start_worker
from tests.support.prometheus import GaugeExporter, Prometheus, running_prometheus
from tests.support.scratch import claimed_redis_db
from tests.web_support import running_server

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]

CONFIG = (
    PRIVATE_STACK_CONFIG
    + """
[intake]
alertmanager_critical = ["critical", "page"]
alertmanager_labels = ["alertname", "team", "instance"]

[receivers.prometheus-team]
type = "webhook"
url_env = "RELOPS_TEST_PROMETHEUS_HOOK_URL"

[route]
receivers = ["prometheus-team"]

[[route.routes]]
name = "prometheus alerts"
matchers = ["source=alertmanager", "alertname=CheckoutErrorsHigh"]
receivers = ["prometheus-team"]
"""
)
GAUGE = "checkout_errors_ratio"
#: The alerting rule Prometheus evaluates every second (docs/guides/prometheus.md shows it).
RULES = """\
groups:
  - name: relops-test
    interval: 1s
    rules:
      - alert: CheckoutErrorsHigh
        expr: checkout_errors_ratio > 0.05
        for: 0s
        labels:
          severity: page
          team: payments
        annotations:
          summary: "Checkout errors at {{ $value | humanizePercentage }}"
          description: "More than 5% of checkouts fail on {{ $labels.instance }}."
          runbook_url: "https://runbooks.example.com/checkout-errors"
"""
#: Alertmanager's side (docs/guides/prometheus.md shows it with production timings): the webhook
#: posts to the intake with the key read from a file. A 2 s repeat_interval makes Alertmanager
#: re-send the firing group every couple of seconds, as it does every 4 h by default.
ALERTMANAGER_CONFIG = """\
route:
  receiver: relops
  group_by: ['alertname']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: relops
    webhook_configs:
      - url: {intake}/api/v1/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {key_file}
"""
SUMMARY = "Checkout errors at"


@dataclass
class Stack:
    intake: str
    key: str
    hook: HttpSink
    exporter: GaugeExporter
    prometheus: Prometheus
    alertmanager: Alertmanager

    def pages(self, kind: str) -> list[SinkRequest]:
        """What the relops route delivered about the Prometheus alert: ``kind`` FIRING or RESOLVED
        (the Slack text's first word after its emoji: CRITICAL, WARNING or RESOLVED)."""
        return [
            r
            for r in self.hook.requests
            if r.json is not None and SUMMARY in json.dumps(r.json) and _kind(r.json) == kind
        ]


def _kind(message: dict[str, Any]) -> str:
    first = str(message.get("text", "")).split(":")[0]
    return first.split(" ")[-1]


@pytest.fixture(scope="module")
def stack(relops_env: dict[str, str], output_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("alertmanager-in")
    config = root / "relops-alertmanager-in.toml"
    config.write_text(CONFIG)
    key = new_key("--scope", "alerts")
    key_file = root / "relops-key"
    key_file.write_text(key)
    key_file.chmod(0o600)
    with (
        HttpSink() as hook,
        claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-alertmanager-in") as redis_url,
    ):
        env = {
            **relops_env,
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": redis_url,
            "RELOPS_CONFIG": str(config),
            "RELOPS_TEST_PROMETHEUS_HOOK_URL": hook.url + "/prometheus-team",
        }
        workers: list[CeleryProcess] = []
        try:
            for name, queue in (("amin-alerts", names.QUEUE_ALERTS), ("amin-notify", names.QUEUE_ALERTS_WEBHOOK)):
                process_name = f"relops-test-{name}-{RUN_ID}"
                workers.append(start_worker(env, output_dir / f"{process_name}.log", process_name, queue, 1))
            with (
                running_server("intake", env, output_dir / "intake-alertmanager-in.log") as (intake, _),
                running_alertmanager(
                    root / "am",
                    intake + "/api/v1/alertmanager",
                    config_text=ALERTMANAGER_CONFIG.format(intake=intake, key_file=key_file),
                ) as am,
                GaugeExporter(GAUGE, 0.0) as exporter,
                running_prometheus(root / "prometheus", exporter.target, RULES, alertmanager=am.target) as prom,
            ):
                yield Stack(intake, key, hook, exporter, prom, am)
        finally:
            for worker in workers:
                worker.stop()


@pytest.fixture
def prom(stack: Stack, relops_env: dict[str, str]) -> Iterator[Stack]:
    """The stack with the exporter healthy, no Prometheus alert firing, and nothing recorded."""
    stack.exporter.value = 0.0
    wait_for(lambda: not stack.prometheus.alerts(), timeout_s=30, what="no Prometheus alert firing")
    stack.hook.clear()
    yield stack
    stack.exporter.value = 0.0


def events(db: Engine, fingerprint: str) -> list[Any]:
    with db.connect() as conn:
        return list(
            conn.execute(
                text("SELECT status, occurred_at FROM ops_alert_events WHERE fingerprint = :fp ORDER BY id"),
                {"fp": fingerprint},
            )
        )


def am_incidents(db: Engine) -> list[Any]:
    with db.connect() as conn:
        return list(conn.execute(text("SELECT * FROM ops_incidents WHERE fingerprint LIKE 'am:%'")))


def test_a_prometheus_alert_pages_through_relops_once_and_its_recovery_resolves_it(prom: Stack, db: Engine) -> None:
    prom.exporter.value = 0.2
    (page,) = wait_for(lambda: prom.pages("CRITICAL"), timeout_s=60, what="the relops route's page")
    assert page.path == "/prometheus-team"
    (incident,) = wait_for(lambda: am_incidents(db), what="the incident")
    fingerprint = incident.fingerprint
    (firing_alert,) = [a for a in prom.alertmanager.alerts() if a["labels"]["alertname"] == "CheckoutErrorsHigh"]
    assert fingerprint == "am:" + firing_alert["fingerprint"]
    assert (incident.status, incident.severity, incident.source) == ("open", "critical", "alertmanager")
    assert incident.title.startswith("Checkout errors at 20")
    assert incident.runbook_url == "https://runbooks.example.com/checkout-errors"
    assert incident.labels["team"] == "payments" and incident.labels["severity"] == "critical"
    assert incident.labels["job"] == "exporter" and incident.route == "route.routes[0] 'prometheus alerts'"
    assert incident.notified.keys() == {"prometheus-team"}

    # Alertmanager re-sends the firing group every repeat_interval (2 s), and again after a restart:
    # each re-send is one more event of the same incident, and the route is not paged again.
    wait_for(lambda: len(events(db, fingerprint)) >= 3, timeout_s=30, what="Alertmanager's re-sends")
    prom.alertmanager.restart()
    seen = len(events(db, fingerprint))
    wait_for(lambda: len(events(db, fingerprint)) > seen, timeout_s=30, what="a re-send after the restart")
    sent = events(db, fingerprint)
    assert {e.status for e in sent} == {"firing"}
    assert len({e.occurred_at for e in sent}) == 1, "every re-send carries the alert's startsAt"
    assert len(am_incidents(db)) == 1
    assert incident_row(db, fingerprint).occurrences >= len(sent) - 1  # the newest may still be in flight
    wait_for(lambda: outbox_settled(db), what="outbox settled")
    assert len(prom.pages("CRITICAL")) == 1, "the re-sends were deduplicated"

    # The exporter recovers: Prometheus resolves the alert, Alertmanager sends the resolution.
    prom.exporter.value = 0.0
    (resolved,) = wait_for(lambda: prom.pages("RESOLVED"), timeout_s=60, what="the resolution")
    assert resolved.path == "/prometheus-team"
    row = incident_row(db, fingerprint)
    assert row.status == "resolved" and row.resolved_at is not None
    wait_for(lambda: outbox_settled(db), what="outbox settled")
    assert len(prom.pages("CRITICAL")) == 1 and len(prom.pages("RESOLVED")) == 1

    # A new episode reopens the incident and pages at once.
    prom.exporter.value = 0.3
    wait_for(lambda: len(prom.pages("CRITICAL")) == 2, timeout_s=60, what="the second episode's page")
    assert incident_row(db, fingerprint).status == "open"
    assert len(am_incidents(db)) == 1


def notification(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": '{}:{alertname="Direct"}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "relops",
        "groupLabels": {"alertname": "Direct"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://127.0.0.1:9093",
        "alerts": list(alerts),
    }


def direct_alert(fingerprint: str, **overrides: Any) -> dict[str, Any]:
    base = {
        "status": "firing",
        "labels": {"alertname": "Direct", "severity": "info", "instance": "db-1"},
        "annotations": {"summary": f"Direct alert {fingerprint}"},
        "startsAt": "2026-12-07T10:00:00.000000001Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "",
        "fingerprint": fingerprint,
    }
    return {**base, **overrides}


def test_the_endpoint_takes_good_alerts_refuses_bad_ones_by_index_and_answers_as_the_intake_does(
    prom: Stack, db: Engine
) -> None:
    url = prom.intake + "/api/v1/alertmanager"
    good, bad = direct_alert("d000000000000001"), direct_alert("d000000000000002", status="pending")
    answer = requests.post(url, json=notification(good, bad), headers=bearer(prom.key), timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "accepted": 1,
        "refused": 1,
        "rejections": [{"item": 1, "field": "status", "error": "must be firing or resolved, got 'pending'"}],
    }
    incident = wait_for(lambda: am_incidents(db), what="the good alert's incident")[0]
    assert incident.fingerprint == "am:d000000000000001"
    assert incident.severity == "warning"
    assert "severity='info' is not a severity relops knows" in incident.last_event["summary"]
    rows = wait_for(
        lambda: [r for r in rejection_rows(db) if r.task == "intake:alertmanager"], what="the refusal recorded"
    )
    assert (rows[0].field, rows[0].reference) == ("status", '{}:{alertname="Direct"}')
    assert "d000000000000002" in rows[0].excerpt

    # Refused whole: not a notification (400), no key (401), a key of another scope (403), too big (413).
    assert requests.post(url, data=b"[]", headers=bearer(prom.key), timeout=10).status_code == 400
    wrong_version = requests.post(
        url, json={**notification(good), "version": "3"}, headers=bearer(prom.key), timeout=10
    )
    assert (wrong_version.status_code, wrong_version.json()["field"]) == (400, "version")
    assert requests.post(url, json=notification(good), timeout=10).status_code == 401
    cron_key = new_key("--scope", "cron")

    def refusal() -> dict[str, Any] | None:
        answer = requests.post(url, json=notification(good), headers=bearer(cron_key), timeout=10)
        return answer.json() if answer.status_code == 403 else None  # 401 until the intake loads the key

    refused = wait_for(refusal, what="the cron key loaded and refused")
    assert refused["error"].endswith("has no alerts scope (it has: cron)")
    too_big = requests.post(url, data=b"x" * (4 * 1_048_576 + 1), headers=bearer(prom.key), timeout=30)
    assert too_big.status_code == 413  # [intake] max_alertmanager_body_bytes, 4 MiB by default


def test_the_guide_shows_the_configs_this_module_runs() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "guides" / "prometheus.md").read_text()
    webhook = ALERTMANAGER_CONFIG[ALERTMANAGER_CONFIG.index("receivers:") :].format(
        intake="https://relops-intake.example", key_file="/etc/alertmanager/relops-key"
    )
    assert webhook in guide
    assert RULES.replace("    interval: 1s\n", "") in guide, "the rule, at Prometheus' own evaluation interval"
    route = CONFIG[CONFIG.index("[[route.routes]]") :]
    assert route in guide
