"""A job page's history: failure streaks, overruns, tails, and the starts the monitor would call missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relops.config import JobConfig
from relops.cron.history import TAIL_CHARS, job_history

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
HOURLY = JobConfig(name="hourly", period_s=3600, grace_s=300, max_runtime_s=600)
DAILY_9 = JobConfig(name="daily", schedule="0 9 * * *", timezone="Europe/Riga", grace_s=600, max_runtime_s=60)


def run(started: datetime, status: str = "success", seconds: float | None = 30, **fields: object) -> dict:
    finished = None if status == "running" or seconds is None else started + timedelta(seconds=seconds)
    duration = None if finished is None else int(seconds * 1000)
    row = {"run_id": f"r-{started:%d%H%M}", "status": status, "started_at": started, "finished_at": finished}
    return {**row, "duration_ms": duration, "result": None, "error": None, **fields}


def test_streaks_overruns_and_tails() -> None:
    base = NOW - timedelta(hours=5)
    rows = [
        run(base, "failure", error="x" * 1000),
        run(base + timedelta(hours=1), "failure"),
        run(base + timedelta(hours=2), "success", seconds=900, result={"rows": 3}),
        run(base + timedelta(hours=3), "failure"),
        run(base + timedelta(hours=4, minutes=3), "running"),  # within the grace
    ]
    history = job_history(HOURLY, rows, start=base, now=NOW)
    assert [r.streak for r in history.runs] == [1, 2, 0, 1, 0]
    assert [r.overran for r in history.runs] == [False, False, True, False, True], "running 57 min, past 10"
    assert history.runs[0].error_tail == "…" + "x" * TAIL_CHARS
    assert history.runs[2].result_tail == "{'rows': 3}"
    assert history.runs[4].duration_s == 57 * 60
    assert history.missed == [], "each start came within the period plus grace"


def test_a_silent_period_job_misses_one_start_per_period_after_grace() -> None:
    last = NOW - timedelta(hours=3, minutes=30)
    history = job_history(HOURLY, [run(last)], start=NOW - timedelta(days=1), now=NOW)
    # Expected at last+1h, +2h, +3h; the deadline of the one at +4h (plus 5 min) has not passed.
    assert history.missed == [last + timedelta(hours=h) for h in (1, 2, 3)]
    late = [run(last), run(last + timedelta(hours=1, minutes=6))]  # one minute past the grace: missed
    assert job_history(HOURLY, late, start=last, now=last + timedelta(hours=1, minutes=7)).missed == [
        last + timedelta(hours=1)
    ]


def test_a_cron_job_misses_its_local_slots_and_the_range_hides_older_misses() -> None:
    # 09:00 Riga is 07:00 UTC in winter. Ran on the 26th; nothing since.
    ran = datetime(2026, 11, 26, 7, 2, tzinfo=UTC)
    history = job_history(DAILY_9, [run(ran)], start=datetime(2026, 11, 28, tzinfo=UTC), now=NOW)
    assert history.missed == [datetime(2026, 11, d, 7, tzinfo=UTC) for d in (28, 29, 30)]
    assert history.runs == [], "the run before the range only opens it"
