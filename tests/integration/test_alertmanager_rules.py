"""An alertmanager receiver, run in this process against the real PostgreSQL and Redis: two local
servers stand in for an HA pair of Alertmanagers (the first reached under a secret path, both asking
for a bearer token). What a page posts, when it is re-sent and when that stops, and what one member
of the pair being down does. tests/integration/test_alertmanager.py runs the real Alertmanager."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from relops_client.breakers import BreakerRegistry
from sqlalchemy import text

from relops import names
from relops.channels.registry import build_receivers
from relops.config import parse_config
from relops.localdev.sink import HttpSink, SinkResponse
from relops.settings import get_settings
from relops.timeutil import utcnow
from tests.integration.conftest import (
    ALERTMANAGER_SECRET_PREFIX,
    ALERTMANAGER_TOKEN,
    TEST_CONFIG,
    alert_event,
    run_cli,
)
from tests.integration.inprocess import InProcessWorker
from tests.integration.queries import dead_letter_count, incident_row, owed

pytestmark = pytest.mark.integration
ALERTS_PATH = "/api/v2/alerts"
RECEIVER = {
    "type": "alertmanager",
    "url_env": "AM_PAIR_URLS",
    "bearer_token_env": "AM_PAIR_TOKEN",
    "resend_interval_s": 60,
    # Retries run back to back in this process: the shared rate limit must not hold them.
    "rate_per_s": 100.0,
    "burst": 10,
}


@dataclasses.dataclass
class Pair:
    first: HttpSink
    second: HttpSink

    def posts(self, sink: HttpSink) -> list[list[dict[str, Any]]]:
        """The alert lists ``sink`` was posted, oldest first."""
        return [r.json for r in sink.requests if r.method == "POST" and r.path.endswith(ALERTS_PATH)]

    def alerts(self, sink: HttpSink) -> list[dict[str, Any]]:
        return [alert for body in self.posts(sink) for alert in body]


@pytest.fixture
def pair(inproc: InProcessWorker, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pair]:
    """The in-process worker with the test config, alerts of team am routed to the pair alone."""
    with HttpSink() as first, HttpSink() as second:
        monkeypatch.setenv("AM_PAIR_URLS", f"{first.url}{ALERTMANAGER_SECRET_PREFIX}, {second.url}")
        monkeypatch.setenv("AM_PAIR_TOKEN", ALERTMANAGER_TOKEN)
        data = tomllib.loads(TEST_CONFIG.format(tick_interval_s=300))
        data["receivers"]["am"] = RECEIVER
        data["breakers"]["am"] = {"failure_threshold": 2, "open_s": 1}
        data["route"]["routes"].insert(0, {"name": "am", "matchers": ["team=am"], "receivers": ["am"]})
        config = parse_config(data, "alertmanager.toml")
        inproc.deps = dataclasses.replace(
            inproc.deps,
            config=config,
            receivers=build_receivers(get_settings(), config),
            breakers=BreakerRegistry(config.breaker_settings(), lambda: inproc.redis),
        )
        yield Pair(first, second)


def dispatch(inproc: InProcessWorker, **event: Any) -> None:
    inproc.send(names.TASK_DISPATCH_ALERT, **event)
    inproc.settle()


def check_incidents(inproc: InProcessWorker, seconds: float, *, settle: bool = True) -> None:
    """relops.check_incidents with the worker's clock ``seconds`` past the real one; then what it
    sends runs (``settle``: retries and group windows too; else only what is due now)."""
    moment = utcnow() + timedelta(seconds=seconds)
    inproc.deps = dataclasses.replace(inproc.deps, now=lambda: moment)
    inproc.send(names.TASK_CHECK_INCIDENTS)
    inproc.settle() if settle else inproc.drain()


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_page_is_posted_to_each_alertmanager_with_its_labels_and_a_bearer_token(pair, inproc):
    before = utcnow()
    dispatch(inproc, **alert_event("checkout", labels={"team": "am"}))
    [[first]] = pair.posts(pair.first)
    [[second]] = pair.posts(pair.second)
    assert first == second
    assert first["labels"] == {
        "alertname": "RelopsErrorBudgetBurn",
        "flow": "checkout",
        "relops_fingerprint": "slo:checkout",
        "severity": "critical",
        "source": "slo",
        "team": "am",
    }
    assert first["generatorURL"] == "http://127.0.0.1:8080/flows/checkout"
    assert before + timedelta(seconds=239) < moment(first["endsAt"]) <= utcnow() + timedelta(seconds=240)
    [request] = pair.first.requests
    assert request.path == ALERTMANAGER_SECRET_PREFIX + ALERTS_PATH
    assert request.header("Authorization") == f"Bearer {ALERTMANAGER_TOKEN}"
    assert pair.second.requests[0].path == ALERTS_PATH


def test_a_firing_is_re_sent_every_resend_interval_until_acknowledged(pair, inproc, db):
    dispatch(inproc, **alert_event("checkout", labels={"team": "am"}))
    check_incidents(inproc, 30)
    assert len(pair.posts(pair.first)) == 1
    check_incidents(inproc, 61)
    check_incidents(inproc, 62)  # claimed once
    assert len(pair.posts(pair.first)) == len(pair.posts(pair.second)) == 2
    first, again = pair.alerts(pair.first)
    assert again["labels"] == first["labels"] and again["startsAt"] == first["startsAt"]
    assert again["annotations"]["description"] == first["annotations"]["description"]  # no "still firing"
    check_incidents(inproc, 122)
    assert len(pair.posts(pair.first)) == 3
    run_cli("incidents", "ack", str(incident_row(db, "slo:checkout").id))
    check_incidents(inproc, 500)
    assert len(pair.posts(pair.first)) == 3


def test_a_relops_silence_stops_the_resends_and_a_resolution_ends_the_alert(pair, inproc, db):
    dispatch(inproc, **alert_event("checkout", labels={"team": "am"}))
    dispatch(inproc, **alert_event("login", labels={"team": "am"}))
    run_cli("silence", "add", "--match", "flow=login", "--for", "2h", "--reason", "known")
    dispatch(inproc, **alert_event("login", labels={"team": "am"}))  # muted now
    dispatch(inproc, **alert_event("checkout", severity="ok", status="resolved", labels={"team": "am"}))
    [_, _, ended] = pair.alerts(pair.first)
    assert ended["labels"]["flow"] == "checkout" and ended["labels"]["severity"] == "critical"
    assert moment(ended["endsAt"]) <= utcnow()
    check_incidents(inproc, 3600)
    assert len(pair.alerts(pair.first)) == 3  # neither the resolved one nor the silenced one again
    assert owed(db, "slo:login") == [("am", "firing")]


def test_one_alertmanager_down_is_retried_without_opening_the_breaker(pair, inproc, db):
    pair.second.respond_with(*[SinkResponse(status=503, body=b"not ready")] * 3)
    dispatch(inproc, **alert_event("checkout", labels={"team": "am"}))
    # Retried until the second took it; the first took it each time (harmless: merged by labels).
    assert [r.response_status for r in pair.second.requests] == [503, 503, 503, 200]
    assert len(pair.posts(pair.first)) == 4
    # Two failures open this breaker when both are down; one of two is no outage.
    assert not inproc.deps.breakers.get("am").is_degraded()
    assert dead_letter_count(db) == 0
    with db.connect() as conn:
        status, error = conn.execute(text("SELECT status, last_error FROM ops_notifications")).one()
    assert status == "delivered"
    assert "HTTP 503: not ready (1 of 2 Alertmanagers took it)" in error
    assert ALERTMANAGER_SECRET_PREFIX.strip("/") not in error and "127.0.0.1" in error


def test_a_resend_waits_while_the_last_one_is_undelivered(pair, inproc, db):
    for sink in (pair.first, pair.second):
        sink.default = SinkResponse(status=503)
    inproc.send(names.TASK_DISPATCH_ALERT, **alert_event("checkout", labels={"team": "am"}))
    inproc.drain()  # both down: the message waits for its retry
    assert inproc.delayed and pair.first.requests
    check_incidents(inproc, 61, settle=False)
    check_incidents(inproc, 122, settle=False)
    assert owed(db, "slo:checkout") == [("am", "firing")]  # one firing owed, not one per interval
    for sink in (pair.first, pair.second):
        sink.default = SinkResponse()
    inproc.settle()
    check_incidents(inproc, 183)
    assert owed(db, "slo:checkout") == [("am", "firing"), ("am", "firing")]
