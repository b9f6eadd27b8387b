"""Inhibition through real workers and a separate service process: the service's calls open the
inventory breaker; booking and stock (which depend on it) burn and are recorded but page nobody,
while the breaker pages once. Stock recovers, the service's trial call closes the breaker, and at
the next evaluation booking, still burning, pages; stock tells nobody (it opened and closed inside
the outage)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import text

from tests.integration.conftest import wait_for
from tests.integration.queries import scalar
from tests.integration.test_silences import evaluate, send_outcomes
from tests.support.celery_process import REPO

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("worker", "channel_workers", "clean_tables")]

#: A service that calls inventory through relops' breaker, in its own process, as services do.
SERVICE = textwrap.dedent(
    """
    import json, sys, time
    from relops_client.breakers import guard, is_degraded
    from relops.errors import DegradedError

    def call(ok):
        with guard("inventory"):
            if not ok:
                raise ConnectionError("inventory: connection refused")

    if sys.argv[1] == "fail":
        for _ in range(2):  # the breaker's failure_threshold
            try:
                call(False)
            except ConnectionError:
                pass
    else:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # fails fast until open_s passed, then a trial call closes it
            try:
                call(True)
                break
            except DegradedError:
                time.sleep(0.1)
    print(json.dumps({"degraded": is_degraded("inventory")}))
    """
)


def service(relops_env: dict[str, str], action: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", SERVICE, action],
        cwd=REPO,
        env={**relops_env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["degraded"]


def texts(webhook_sink) -> list[str]:
    return [r.json["text"] for r in webhook_sink.requests]


def occurrences(db, flow: str) -> int:
    return scalar(db, "SELECT coalesce(max(occurrences), 0) FROM ops_incidents WHERE fingerprint = :f", f=f"slo:{flow}")


def test_an_open_dependency_inhibits_two_flows_then_the_one_still_burning_pages(producer, db, webhook_sink, relops_env):
    assert service(relops_env, "fail") is True
    send_outcomes(producer, db, "booking", good=80, bad=20)
    send_outcomes(producer, db, "stock", good=80, bad=20)
    for evaluated in (1, 2):
        evaluate(producer, "booking", "stock")
        wait_for(
            lambda n=evaluated: occurrences(db, "booking") == n and occurrences(db, "stock") == n,
            what="both flows evaluated",
        )
    producer.send_task("relops.check_breakers", queue="evaluate")
    wait_for(lambda: any("inventory is degraded" in t for t in texts(webhook_sink)), what="the breaker's page")
    with db.connect() as conn:
        inhibited = conn.execute(
            text("SELECT fingerprint FROM ops_incidents WHERE inhibited_by = 'dependency:inventory' ORDER BY 1")
        ).scalars()
        assert list(inhibited) == ["slo:booking", "slo:stock"]
    assert not any("booking" in t or "stock" in t for t in texts(webhook_sink))

    send_outcomes(producer, db, "stock", good=100_000, bad=0)  # stock recovers; booking does not
    assert service(relops_env, "recover") is False
    evaluate(producer, "booking", "stock")
    wait_for(lambda: any("booking burning" in t for t in texts(webhook_sink)), timeout_s=30, what="booking's page")
    wait_for(
        lambda: scalar(db, "SELECT status FROM ops_incidents WHERE fingerprint = 'slo:stock'") == "resolved",
        what="stock resolved",
    )
    producer.send_task("relops.check_breakers", queue="evaluate")
    wait_for(lambda: any("inventory is answering again" in t for t in texts(webhook_sink)), what="breaker resolved")
    assert not any("stock" in t for t in texts(webhook_sink))
    assert sum("booking burning" in t for t in texts(webhook_sink)) == 1
    assert sum("inventory is degraded" in t for t in texts(webhook_sink)) == 1
