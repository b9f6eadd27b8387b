"""Window and period sums in PostgreSQL: edges are exact, late data still counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from relops.config import DEFAULT_WINDOWS, FlowConfig, WindowRule
from relops.slo.burnrate import Counts
from relops.slo.outcome_batch import OutcomeCount
from relops.store.outcomes import ingest_batch
from relops.store.windows import fetch_flow_counts

pytestmark = pytest.mark.integration

AS_OF = datetime(2026, 11, 27, 12, 31, tzinfo=UTC)  # windows end at 12:31:00 (exclusive)
FLOW = FlowConfig(name="checkout", objective_percent=99.9)
OTHER = FlowConfig(name="login", objective_percent=99.5, period_days=7)


def ingest(db, batch_id, *items, minute_horizon=AS_OF - timedelta(hours=26)):
    with db.begin() as conn:
        return ingest_batch(conn, batch_id, list(items), rejected=0, minute_horizon=minute_horizon)


def at(minutes_before: int, good: int, bad: int, flow: str = "checkout") -> OutcomeCount:
    return OutcomeCount(flow=flow, minute=AS_OF - timedelta(minutes=minutes_before), good=good, bad=bad)


def test_window_edges_are_exact(db, clean_tables):
    ingest(
        db,
        "b1",
        at(1, 1, 0),  # 12:30, the newest minute: in every window
        at(60, 10, 1),  # 11:31: the oldest minute of the 1h window
        at(61, 100, 2),  # 11:30: just outside 1h, inside 6h
        at(360, 1000, 3),  # oldest minute of 6h
        at(361, 10_000, 4),  # outside 6h, inside 24h
        at(1440, 100_000, 5),  # oldest minute of 24h
        at(1441, 1_000_000, 6),  # outside every window, inside the period
        at(1, 7, 7, flow="login"),
    )
    with db.connect() as conn:
        counts = fetch_flow_counts(conn, [FLOW, OTHER], DEFAULT_WINDOWS, AS_OF)
    checkout = counts["checkout"]
    assert checkout.windows["1h"] == Counts(good=11, bad=1)
    assert checkout.windows["6h"] == Counts(good=1111, bad=6)
    assert checkout.windows["24h"] == Counts(good=111_111, bad=15)
    assert checkout.period == Counts(good=1_111_111, bad=21)
    assert counts["login"].windows["1h"] == Counts(good=7, bad=7)


def test_confirmation_windows_are_summed_separately(db, clean_tables):
    ingest(db, "b1", at(1, 5, 5), at(10, 90, 0))
    rule = WindowRule(name="1h", window_s=3600, min_events=3, warning_burn=7, critical_burn=14, confirm_window_s=300)
    with db.connect() as conn:
        counts = fetch_flow_counts(conn, [FLOW], [rule], AS_OF)["checkout"]
    assert counts.windows["1h"] == Counts(good=95, bad=5)
    assert counts.confirms["1h"] == Counts(good=5, bad=5)


def test_late_data_past_the_minute_horizon_still_counts_toward_the_budget(db, clean_tables):
    horizon = AS_OF - timedelta(hours=26)
    ingest(db, "late", at(60 * 30, 40, 2), at(5, 1, 0), minute_horizon=horizon)
    with db.connect() as conn:
        minutes = conn.execute(text("SELECT count(*) FROM ops_flow_minutes")).scalar()
        counts = fetch_flow_counts(conn, [FLOW], DEFAULT_WINDOWS, AS_OF)["checkout"]
    assert minutes == 1  # the 30-hour-old minute went to the hour table only
    assert counts.period == Counts(good=41, bad=2)


def test_period_starts_on_a_whole_hour_and_is_per_flow(db, clean_tables):
    # login's period is 7 days: counts from 8 days ago belong to checkout's period only.
    eight_days = 8 * 24 * 60
    ingest(db, "b1", at(eight_days, 10, 1), at(eight_days, 10, 1, flow="login"))
    with db.connect() as conn:
        counts = fetch_flow_counts(conn, [FLOW, OTHER], DEFAULT_WINDOWS, AS_OF)
    assert counts["checkout"].period == Counts(good=10, bad=1)
    assert counts["login"].period == Counts()


def test_same_key_twice_in_one_batch_is_summed(db, clean_tables):
    assert ingest(db, "b1", at(3, 1, 1), at(3, 2, 2))
    assert not ingest(db, "b1", at(3, 1, 1))
    with db.connect() as conn:
        assert tuple(conn.execute(text("SELECT good, bad FROM ops_flow_minutes")).one()) == (3, 3)
