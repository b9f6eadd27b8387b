"""What people see follows every tick at once: the dashboard row, `relops status --json`, the API
and the flow page show the latest tick's evaluation (not the minute's last tick's) and agree with
the incident that tick opened. Real worker processes and a real `relops web`; the history's one
row per flow and minute in this process."""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import timedelta

import pytest
import requests
from sqlalchemy import text

from relops import names
from relops.config.models import EvaluationConfig
from relops.slo.outcome_batch import OutcomeCount
from relops.store.outcomes import ingest_batch
from relops.timeutil import evaluation_end, floor_minute, iso_minute, utcnow
from tests.integration.conftest import run_cli, wait_for
from tests.integration.queries import batch_landed, scalar
from tests.support.celery_process import poll_until
from tests.web_support import new_user, web_fixture  # noqa: F401 (the `web` fixture)

pytestmark = pytest.mark.integration

#: "Within that tick": before the next tick at the default interval would come.
ONE_TICK_S = float(EvaluationConfig.model_fields["tick_interval_s"].default)
#: checkout after healthy_then_burning's second batch: 50 errors of 1,000 events in 1h at 99.9 %.
BURNING = "critical 50.00x"


def minute_ago(minutes: int) -> str:
    return iso_minute(floor_minute(utcnow()) - timedelta(minutes=minutes))


def ingest(producer, db, counts: list[dict]) -> None:
    batch_id = uuid.uuid4().hex
    producer.send_task(names.TASK_RECORD_FLOW_OUTCOMES, kwargs={"batch_id": batch_id, "counts": counts}, queue="ingest")
    wait_for(lambda: batch_landed(db, batch_id), what="batch ingested")


def open_incident(db):
    with db.connect() as conn:
        return conn.execute(
            text("SELECT severity, title FROM ops_incidents WHERE fingerprint = 'slo:checkout' AND status = 'open'")
        ).first()


@pytest.fixture(scope="module")
def admin(relops_env) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_user(relops_env, 'admin')}"}


def _shown(severity: str, burn_rate: float | None) -> str:
    return f"{severity} {'no data' if burn_rate is None else f'{burn_rate:.2f}x'}"


def seen(web: str, admin: dict[str, str]) -> dict[str, str]:
    """checkout's severity and 1h burn rate as each view shows them."""
    status = next(f for f in json.loads(run_cli("status", "--json"))["flows"] if f["flow"] == "checkout")
    snapshot = requests.get(web + "/api/v1/snapshot", headers=admin, timeout=10).json()
    api = next(f for f in snapshot["flows"] if f["flow"] == "checkout")
    dashboard = requests.get(web + "/", headers=admin, timeout=10).text
    row = re.search(r'<tr data-flow="checkout">(.*?)</tr>', dashboard, re.S)
    # The row's badges: the flow's severity, then each window's burn rate (1h first).
    (severity, _), (_, one_hour) = re.findall(r'<span class="badge (\w+)">([^<]*)</span>', row.group(1))[:2]
    flow_page = requests.get(web + "/flows/checkout?range=24h", headers=admin, timeout=10).text
    now = re.search(r'<p id="now">Now: <span class="badge (\w+)">.*? · 1h ([^ <\n]+)', flow_page, re.S)
    return {
        "status": _shown(status["severity"], status["windows"]["1h"]["burn_rate"]),
        "api": _shown(api["severity"], api["windows"]["1h"]["burn_rate"]),
        "dashboard": f"{severity} {one_hour}",
        "flow page": f"{now.group(1)} {now.group(2)}" if now else "no current values",
    }


def everywhere(shown: str) -> dict[str, str]:
    return dict.fromkeys(("status", "api", "dashboard", "flow page"), shown)


def healthy_then_burning(producer, db, web, admin) -> None:
    """checkout: 900 good outcomes a minute ago, evaluated by beat's tick (ok, 0.00x everywhere);
    then 50 good and 50 bad this minute, not evaluated yet."""
    ingest(producer, db, [{"flow": "checkout", "minute": minute_ago(1), "good": 900, "bad": 0}])
    producer.send_task(names.TASK_EVALUATE_TICK, queue=names.QUEUE_EVALUATE)
    wait_for(
        lambda: scalar(db, "SELECT count(*) FROM ops_burn_rate_snapshots WHERE flow = 'checkout'"),
        what="checkout's first snapshot",
    )
    assert seen(web, admin) == everywhere("ok 0.00x")
    ingest(producer, db, [{"flow": "checkout", "minute": minute_ago(0), "good": 50, "bad": 50}])


def assert_all_agree_within_one_tick(web, admin, db, sent_at: float) -> None:
    """The tick's incident opens, and every view says what it says, before the next tick."""
    deadline = sent_at + ONE_TICK_S
    incident = wait_for(lambda: open_incident(db), timeout_s=deadline - time.monotonic(), what="checkout incident")
    assert incident.severity == "critical" and "50.0x" in incident.title
    last: dict[str, str] = {}

    def agree() -> bool:
        last.update(seen(web, admin))
        return last == everywhere(BURNING)

    try:
        poll_until(agree, max(0.1, deadline - time.monotonic()), what="every view showing the breach")
    except TimeoutError:
        pytest.fail(f"the incident is open, but before the next tick the views showed {last}")


def test_a_tick_that_breaches_shows_everywhere_before_the_next_tick(
    worker, channel_workers, producer, db, clean_tables, web, admin
):
    healthy_then_burning(producer, db, web, admin)
    # Beat's next tick (every 20 s by default, so most often in the same minute): a slot of its own.
    with db.begin() as conn:
        conn.execute(text("TRUNCATE ops_evaluation_ticks"))
    sent_at = time.monotonic()
    producer.send_task(names.TASK_EVALUATE_TICK, queue=names.QUEUE_EVALUATE)
    assert_all_agree_within_one_tick(web, admin, db, sent_at)


def test_relops_tick_evaluates_now_even_after_beats_tick_of_the_slot(
    worker, channel_workers, producer, db, clean_tables, web, admin
):
    healthy_then_burning(producer, db, web, admin)
    sent_at = time.monotonic()
    assert "sent relops.evaluate_tick" in run_cli("tick")
    assert_all_agree_within_one_tick(web, admin, db, sent_at)
    # The slot stays beat's: a manual tick claims none, so beat's next tick is not skipped.
    assert scalar(db, "SELECT count(*) FROM ops_evaluation_ticks") == 1


def test_the_history_keeps_one_snapshot_per_flow_and_minute_the_minutes_latest(inproc, db):
    now = utcnow()
    minute, as_of = floor_minute(now), evaluation_end(now)
    earlier = as_of - timedelta(minutes=1)

    def add(good: int, bad: int) -> None:
        with db.begin() as conn:
            ingest_batch(
                conn,
                uuid.uuid4().hex,
                [OutcomeCount("checkout", minute - timedelta(minutes=2), good, bad)],
                rejected=0,
                minute_horizon=now - timedelta(days=1),
            )

    def evaluate(at) -> None:
        inproc.send(names.TASK_EVALUATE_FLOWS, as_of=at.isoformat(), flows=["checkout"])
        inproc.settle()

    def rows() -> list[tuple]:
        with db.connect() as conn:
            return conn.execute(
                text(
                    "SELECT evaluated_at, severity, period_events, period_errors, xmin::text "
                    "FROM ops_burn_rate_snapshots WHERE flow = 'checkout' ORDER BY evaluated_at"
                )
            ).all()

    add(100, 0)
    evaluate(earlier)
    evaluate(as_of)
    add(0, 100)
    evaluate(as_of)  # a later tick of the same minute: the minute's row now says what it found
    replaced = rows()
    assert [tuple(r)[:4] for r in replaced] == [(earlier, "ok", 100, 0), (as_of, "critical", 200, 100)]
    evaluate(as_of)  # nothing changed since: the row is left as it is (no write, no dead tuple)
    assert rows() == replaced
