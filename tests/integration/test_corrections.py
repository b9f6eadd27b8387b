"""SLO corrections, run in this process against the real PostgreSQL: the budget without the events of
a correction or a maintenance window, computed from the counters (never edited), exactly."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from fractions import Fraction

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from relops import names
from relops.application.evaluate import exclusions
from relops.cli import cli
from relops.config import MaintenanceConfig
from relops.slo.evaluation import evaluate_chunk
from relops.slo.outcome_batch import OutcomeCount
from relops.slo.retention import horizons
from relops.store.corrections import flows_with_corrections
from relops.store.outcomes import ingest_batch
from relops.store.retention import prune
from relops.store.windows import fetch_flow_counts
from relops.timeutil import evaluation_end, floor_minute, utcnow
from tests.integration.conftest import run_cli
from tests.integration.queries import scalar

pytestmark = pytest.mark.integration
OBJECTIVE = Fraction(999, 1000)  # checkout: 99.9 %


def sent_counts(now):
    """90 minutes of checkout traffic, one row a minute, with more failures in some minutes."""
    base = floor_minute(now)
    return {base - timedelta(minutes=m): (1000 - (m % 7) * 3, 2 + (30 if 30 <= m < 50 else 0)) for m in range(1, 91)}


def ingest(db, counts) -> None:
    items = [OutcomeCount("checkout", minute, good, bad) for minute, (good, bad) in counts.items()]
    with db.begin() as conn:
        ingest_batch(conn, "sent", items, rejected=0, minute_horizon=utcnow() - timedelta(days=2))


def evaluate(inproc, as_of):
    inproc.send(names.TASK_EVALUATE_FLOWS, as_of=as_of.isoformat(), flows=["checkout"])
    inproc.settle()


def budget(counts, left_out=()) -> Fraction:
    kept = [c for minute, c in counts.items() if not any(s <= minute < e for s, e in left_out)]
    good, bad = sum(g for g, _ in kept), sum(b for _, b in kept)
    return 1 - Fraction(bad, good + bad) / (1 - OBJECTIVE)


def test_a_correction_leaves_its_events_out_of_the_budget_exactly(inproc, db, clean_tables):
    now = utcnow()
    counts = sent_counts(now)
    ingest(db, counts)
    start, end = floor_minute(now) - timedelta(minutes=49, seconds=30), floor_minute(now) - timedelta(minutes=30)
    output = run_cli(
        "correction",
        "add",
        "--flow",
        "checkout",
        "--from",
        start.isoformat(),
        "--to",
        end.isoformat(),
        "--reason",
        "planned failover test",
    )
    # Minutes are counted whole: the minute that holds the start is left out from its beginning.
    left_out = [(floor_minute(start), end)]
    out_events = sum(g + b for m, (g, b) in counts.items() if left_out[0][0] <= m < end)
    assert f"leaves out {out_events:,} events" in output

    config, as_of = inproc.deps.config, evaluation_end(now)
    flow = config.flows_by_name["checkout"]
    with db.connect() as conn:
        spans = exclusions(conn, config, [flow], as_of)
        got = evaluate_chunk(
            [flow], fetch_flow_counts(conn, [flow], config.evaluation.windows, as_of, spans), config.evaluation
        )[0][1]
    assert got.budget_remaining == budget(counts, left_out)  # exact fractions, not floats
    assert got.budget_remaining_uncorrected == budget(counts)
    assert got.excluded_events == out_events
    one_hour = next(w for w in got.windows if w.name == "1h")
    in_hour = {m: c for m, c in counts.items() if m >= as_of - timedelta(hours=1)}
    assert one_hour.events == sum(g + b for m, (g, b) in in_hour.items() if not left_out[0][0] <= m < end)

    evaluate(inproc, as_of)
    with db.connect() as conn:
        snap = conn.execute(text("SELECT * FROM ops_burn_rate_snapshots WHERE flow = 'checkout'")).one()
    assert float(snap.budget_remaining) == round(float(budget(counts, left_out)), 4)
    assert float(snap.budget_remaining_uncorrected) == round(float(budget(counts)), 4)
    assert snap.excluded_events == out_events
    assert scalar(db, "SELECT action FROM ops_audit ORDER BY id DESC LIMIT 1") == "correction.add"


def test_a_flow_that_excludes_maintenance_leaves_its_windows_out(inproc, db, clean_tables):
    now = utcnow()
    counts = sent_counts(now)
    ingest(db, counts)
    opens = floor_minute(now) - timedelta(minutes=45)
    window = MaintenanceConfig(
        name="failover", schedule=f"{opens.minute} {opens.hour} * * *", duration_s=600, matchers=("flow=checkout",)
    )
    config = inproc.deps.config
    flows = tuple(f.model_copy(update={"exclude_maintenance": f.name == "checkout"}) for f in config.flows)
    inproc.deps = dataclasses.replace(
        inproc.deps, config=config.model_copy(update={"flows": flows, "maintenance": (window,)})
    )
    evaluate(inproc, evaluation_end(now))
    left_out = [(opens, opens + timedelta(minutes=10))]
    with db.connect() as conn:
        snap = conn.execute(text("SELECT * FROM ops_burn_rate_snapshots WHERE flow = 'checkout'")).one()
    assert snap.excluded_events == sum(g + b for m, (g, b) in counts.items() if opens <= m < left_out[0][1])
    assert float(snap.budget_remaining) == round(float(budget(counts, left_out)), 4)
    assert float(snap.budget_remaining_uncorrected) == round(float(budget(counts)), 4)


def test_corrected_flows_keep_their_minutes_for_the_whole_period(inproc, db, clean_tables):
    now = utcnow()
    old = floor_minute(now) - timedelta(days=3)
    with db.begin() as conn:
        for flow in ("checkout", "login"):
            conn.execute(text("INSERT INTO ops_flow_minutes VALUES (:f, :m, 5, 1)"), {"f": flow, "m": old})
    run_cli(
        "correction",
        "add",
        "--flow",
        "checkout",
        "--from",
        (old - timedelta(hours=1)).isoformat(),
        "--to",
        (old + timedelta(hours=1)).isoformat(),
        "--reason",
        "db migration",
    )
    limits = horizons(inproc.deps.config, now)
    with db.begin() as conn:
        assert flows_with_corrections(conn, limits.hours) == {"checkout"}
        prune(conn, limits, {"checkout"})
        kept = sorted(
            r[0] for r in conn.execute(text("SELECT flow FROM ops_flow_minutes WHERE minute = :m"), {"m": old})
        )
    assert kept == ["checkout"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--flow", "nope"], "--flow: 'nope' is not a flow in the config"),
        (["--reason", ""], "--reason: is required"),
        (["--to", "2020-01-01T00:00:00Z"], "--to: 2020-01-01T00:00:00+00:00 is not after the start"),
        (["--to", "2099-01-01T00:00:00Z"], "--to: is in the future"),
        (["--from", "2020-01-01T00:00:00Z", "--to", "2020-01-02T00:00:00Z"], "older than checkout's 30-day SLO period"),
    ],
)
def test_a_correction_that_cannot_be_meant_is_refused_naming_its_option(inproc, args, words):
    now = utcnow()
    defaults = {
        "--flow": "checkout",
        "--from": (now - timedelta(hours=2)).isoformat(),
        "--to": (now - timedelta(hours=1)).isoformat(),
        "--reason": "test",
    }
    for option, value in zip(args[::2], args[1::2], strict=True):
        defaults[option] = value
    result = CliRunner().invoke(cli, ["correction", "add", *[x for pair in defaults.items() for x in pair]])
    assert result.exit_code == 2 and words in result.output, result.output
