"""Cron schedules across DST, cron-run event validation, and the tracking decorator."""

from datetime import UTC, datetime, timedelta

import pytest
from relops_client.cron import with_cron_tracking

from relops.config import JobConfig
from relops.cron.events import parse_cron_run
from relops.cron.schedule import next_start, start_deadline
from relops.errors import InputRejected

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def riga_daily(hour: int) -> JobConfig:
    return JobConfig(name="daily", schedule=f"30 {hour} * * *", timezone="Europe/Riga")


def test_a_daily_run_keeps_its_local_time_across_dst():
    job = riga_daily(3)
    # Riga leaves summer time on 2026-10-25 at 04:00 (03:00-04:00 happens twice).
    before = next_start(job, datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    after = next_start(job, before)
    assert before == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 03:30 EEST
    assert after == datetime(2026, 10, 26, 1, 30, tzinfo=UTC)  # 03:30 EET, once, not twice
    # Spring forward, 2026-03-29 03:00 -> 04:00: a 03:30 run moves, it is not skipped for the day.
    spring = next_start(job, datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    assert spring.date() == datetime(2026, 3, 29).date()


def test_period_jobs_and_grace():
    job = JobConfig(name="tick", period_s=300, grace_s=120)
    assert next_start(job, NOW) == NOW + timedelta(seconds=300)
    assert start_deadline(job, NOW) == NOW + timedelta(seconds=420)


def event(**changes):
    base = {
        "name": "job",
        "run_id": "r1",
        "status": "success",
        "at": NOW.isoformat(),
        "duration_ms": 5,
        "result": {"ok": 1},
        "error": None,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"status": "done"}, "status"),
        ({"duration_ms": -1}, "duration_ms"),
        ({"duration_ms": "5"}, "duration_ms"),
        ({"name": ""}, "name"),
        ({"name": "a\nb"}, "name"),
        ({"run_id": None}, "run_id"),
        ({"at": "yesterday"}, "at"),
        ({"at": (NOW + timedelta(hours=1)).isoformat()}, "at"),
        ({"result": {"x": "y" * 20_000}}, "result"),
        ({"error": 5}, "error"),
        ({"error": "a\udc00b"}, "error"),  # a lone surrogate: JSON carries it, PostgreSQL would refuse it
        ({"result": {"tail": "\ud800"}}, "result"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_events_name_the_field(changes, field):
    with pytest.raises(InputRejected) as caught:
        parse_cron_run(event(**changes), now=NOW, result_max_bytes=16384)
    assert caught.value.field == field


def test_tracking_keeps_the_result_and_the_exception_and_reports_both():
    sent = []
    tracked = with_cron_tracking("job", sender=sent.append)

    @tracked
    def works(x):
        return x * 2

    @tracked
    def breaks():
        raise ValueError("nope")

    assert works(21) == 42
    with pytest.raises(ValueError, match="nope"):
        breaks()
    assert [e["status"] for e in sent] == ["started", "success", "started", "failure"]
    assert sent[1]["result"] == 42 and sent[0]["run_id"] == sent[1]["run_id"] != sent[2]["run_id"]
    assert "ValueError: nope" in sent[3]["error"]
    for e in sent:
        parse_cron_run(e, now=datetime.now(UTC), result_max_bytes=16384)  # what it sends is valid


def test_a_report_that_cannot_be_sent_never_reaches_the_job(caplog):
    def broken_sender(_):
        raise ConnectionError("broker down")

    with with_cron_tracking("job", sender=broken_sender) as run:
        run.result = "fine"
    assert "cron.report_failed" in caplog.text
