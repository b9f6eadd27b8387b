"""The dashboard's flow order and job strips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from relops.config import JobConfig
from relops.web.overview import STRIP_CELLS, run_strip, sorted_flows

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def test_flows_come_least_budget_first_unless_asked_otherwise() -> None:
    flows = [
        {"flow": "a", "severity": "ok", "budget_remaining": 0.9},
        {"flow": "b", "severity": "warning", "budget_remaining": -0.2},
        {"flow": "c", "severity": "no_data", "budget_remaining": None},
        {"flow": "d", "severity": "critical", "budget_remaining": 0.4},
    ]
    assert [f["flow"] for f in sorted_flows(flows, "budget")] == ["b", "d", "a", "c"]
    assert [f["flow"] for f in sorted_flows(flows, "severity")] == ["d", "b", "a", "c"]
    assert [f["flow"] for f in sorted_flows(flows, "name")] == ["a", "b", "c", "d"]


def test_a_strip_shows_runs_and_missed_starts_oldest_first() -> None:
    job = JobConfig(name="j", period_s=3600, grace_s=60, max_runtime_s=60)

    def run(hours_ago: float, status: str = "success", seconds: int = 10) -> dict:
        started = NOW - timedelta(hours=hours_ago)
        finished = None if status == "running" else started + timedelta(seconds=seconds)
        return {
            "run_id": str(hours_ago),
            "status": status,
            "started_at": started,
            "finished_at": finished,
            "duration_ms": None if finished is None else seconds * 1000,
        }

    runs = [run(6), run(5, "failure"), run(2, seconds=120), run(1), run(0.01, "running")]
    cells = run_strip(job, runs, NOW)
    assert [c.state for c in cells] == ["ok", "critical", "missed", "missed", "overrun", "ok", "running"]
    many = [run(h) for h in range(40, 0, -1)]
    assert len(run_strip(job, many, NOW)) == STRIP_CELLS and run_strip(job, [], NOW) == []
