"""A flow page's minute ranges against the real PostgreSQL: the counters written by the intake's
path, a correction left out to the minute, and each point what the evaluation says."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest
from sqlalchemy import text

from relops.application.evaluate import exclusions
from relops.slo.burnrate import Counts, budget_left, burn_rate
from relops.slo.evaluation import evaluate_chunk
from relops.slo.outcome_batch import OutcomeCount
from relops.store.corrections import insert_correction
from relops.store.outcomes import ingest_batch
from relops.store.windows import fetch_flow_counts
from relops.timeutil import evaluation_end, floor_hour, floor_minute, utcnow
from relops.web.charts import flow_series_payload, opening_range

pytestmark = pytest.mark.integration
OBJECTIVE = Fraction(999, 1000)  # checkout: 99.9 %
MIN = timedelta(minutes=1)


def ingest(db, flow: str, counts: dict) -> None:
    items = [OutcomeCount(flow, minute, good, bad) for minute, (good, bad) in counts.items()]
    with db.begin() as conn:
        ingest_batch(conn, "sent", items, rejected=0, minute_horizon=utcnow() - timedelta(days=2))


def percent(value: Fraction | None) -> float | None:
    return None if value is None else round(float(value) * 100, 4)


def summed(counts: dict, start, end, left_out) -> Counts:
    kept = [c for m, c in counts.items() if start <= m < end and not left_out[0] <= m < left_out[1]]
    return Counts(good=sum(g for g, _ in kept), bad=sum(b for _, b in kept))


def test_minute_points_are_what_the_evaluation_says_at_each_minute(inproc, db, clean_tables):
    now = utcnow()
    base = floor_minute(now)
    # 90 minutes of checkout traffic, failing harder 30 to 50 minutes ago; a correction forgives
    # 45 to 35 minutes ago.
    counts = {base - m * MIN: (1000 - (m % 7) * 3, 2 + (30 if 30 <= m < 50 else 0)) for m in range(0, 90)}
    ingest(db, "checkout", counts)
    left_out = (base - 45 * MIN, base - 35 * MIN)
    with db.begin() as conn:
        insert_correction(
            conn, flow="checkout", starts_at=left_out[0], ends_at=left_out[1], reason="failover test", created_by="t"
        )
    config = inproc.deps.config
    flow, rules = config.flows_by_name["checkout"], config.evaluation.windows
    as_of = evaluation_end(now)
    with db.connect() as conn:
        payload = flow_series_payload(conn, config, flow, "1h", now)
        spans = exclusions(conn, config, [flow], as_of)
        now_said = evaluate_chunk([flow], fetch_flow_counts(conn, [flow], rules, as_of, spans), config.evaluation)
        evaluated = now_said[0][1]
        assert opening_range(conn, flow, now) == "6h", "90 minutes of data: more than an hour"
        six = flow_series_payload(conn, config, flow, "6h", now)

    assert payload["range"] == "1h" and payload["step_s"] == 60 and payload["step_label"] == "1 min"
    assert len(payload["points"]) == 60 and payload["points"][-1] == int(now.timestamp())
    assert len(six["points"]) == 360 and six["good"][-90:] == [counts[base - m * MIN][0] for m in range(89, -1, -1)]
    # The newest point is the evaluation now, to the minute.
    assert payload["budget_remaining_percent"][-1] == percent(evaluated.budget_remaining)
    for window, result in zip(payload["windows"], evaluated.windows, strict=True):
        assert window["window_s"] == result.window_s
        assert window["burn_rates"][-1] == (None if result.burn_rate is None else round(float(result.burn_rate), 4))
    # Every point is what an evaluation at its minute said, the correction left out.
    period_start = floor_hour(as_of - timedelta(seconds=flow.period_s))
    for index in range(60):
        point = as_of - (59 - index) * MIN
        bar = counts.get(point - MIN, (0, 0))
        assert (payload["good"][index], payload["bad"][index]) == bar, "the bars show every event"
        expected = budget_left(summed(counts, period_start, point, left_out), OBJECTIVE)
        assert payload["budget_remaining_percent"][index] == percent(expected), point
        for window, rule in zip(payload["windows"], rules, strict=True):
            inside = summed(counts, point - timedelta(seconds=rule.window_s), point, left_out)
            assert window["burn_rates"][index] == round(float(burn_rate(inside, OBJECTIVE)), 4), (rule.name, point)
    assert [c["reason"] for c in payload["corrections"]] == ["failover test"]


def test_a_new_flow_opens_on_an_hour_of_minute_points_with_its_budget_on_the_axis(inproc, db, clean_tables):
    now = utcnow()
    base = floor_minute(now)
    config = inproc.deps.config
    login = config.flows_by_name["login"]
    with db.connect() as conn:
        assert opening_range(conn, login, now) == "1h", "no data yet"
    ingest(db, "login", {base - m * MIN: (8, 2) for m in range(4)})  # 4 minutes, 20 % failing
    with db.connect() as conn:
        assert opening_range(conn, login, now) == "1h"
        payload = flow_series_payload(conn, config, login, "1h", now)
    drawn = [value for value in payload["budget_remaining_percent"] if value is not None]
    assert len(drawn) == 4 and drawn[-1] == -3900.0, "20 % failing at 99.5 %: the ratio's -3,900 %"
    assert payload["budget_floor_percent"] == -100.0
    assert payload["budget_below_floor"] == {
        "lowest_percent": -3900.0,
        "at": payload["points"][-4],
        "period_events": 10,
    }


def test_an_open_incident_opens_the_page_on_a_range_it_takes_half_of(inproc, db, clean_tables):
    now = utcnow()
    config = inproc.deps.config
    checkout = config.flows_by_name["checkout"]
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops_flow_hours (flow, hour, good, bad) SELECT 'checkout', "
                "date_trunc('hour', now()) - make_interval(hours => h), 1000, 1 FROM generate_series(0, 40 * 24) h"
            )
        )
        assert opening_range(conn, checkout, now) == "7d", "a flow with history opens on a week"
        conn.execute(
            text(
                "INSERT INTO ops_incidents (fingerprint, status, severity, source, title, first_seen, last_seen, "
                "opened_at, occurrences, last_event) VALUES ('slo:checkout', 'open', 'critical', 'slo', 'burning', "
                "now() - interval '12 minutes', now(), now() - interval '12 minutes', 1, '{}')"
            )
        )
        assert opening_range(conn, checkout, now) == "1h", "12 minutes into an outage: minute points"
