"""What a flow page shades besides its incident: the occurrences of maintenance windows that
silence the flow's alerts, whether or not the flow leaves them out of its budget."""

from __future__ import annotations

from datetime import UTC, datetime

from relops.config import parse_config
from relops.web.charts import maintenance_spans

CONFIG = parse_config(
    {
        "flows": [
            {"name": "checkout", "objective_percent": 99.9, "labels": {"team": "payments"}},
            {"name": "login", "objective_percent": 99.5},
        ],
        "maintenance": [
            {"name": "nightly-db", "schedule": "0 2 * * *", "duration_s": 1800, "matchers": ["team=payments"]},
            {"name": "login-only", "schedule": "0 3 * * *", "duration_s": 600, "matchers": ["flow=login"]},
        ],
    },
    "test.toml",
)


def test_a_flow_is_shaded_for_each_occurrence_of_the_windows_that_match_it() -> None:
    start, end = datetime(2026, 11, 28, 2, 15, tzinfo=UTC), datetime(2026, 11, 30, 12, tzinfo=UTC)
    spans = maintenance_spans(CONFIG, CONFIG.flows_by_name["checkout"], start, end)
    assert [s["name"] for s in spans] == ["nightly-db"] * 3
    assert spans[0]["starts_at"] == int(start.timestamp()), "clipped to the range"
    assert spans[1]["starts_at"] == int(datetime(2026, 11, 29, 2, tzinfo=UTC).timestamp())
    assert spans[1]["ends_at"] - spans[1]["starts_at"] == 1800
    login = maintenance_spans(CONFIG, CONFIG.flows_by_name["login"], start, end)
    assert [s["name"] for s in login] == ["login-only"] * 3, "03:00 on the 28th, 29th and 30th"
