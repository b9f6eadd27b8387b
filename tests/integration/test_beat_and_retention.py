"""Beat drives the tick on its own; pruning keeps history bounded without touching what still counts."""

from __future__ import annotations

import itertools
import os
import signal
from datetime import timedelta

import pytest
import redis
from sqlalchemy import text

from relops.store.outcomes import rebuild_days
from relops.timeutil import floor_day, floor_hour, utcnow
from tests.conftest import BASE_REDIS_URL, RUN_ID
from tests.integration.conftest import wait_for, write_config
from tests.support.celery_process import CeleryProcess, start_worker
from tests.support.scratch import claimed_redis_db

pytestmark = pytest.mark.integration


def test_prune_drops_only_rows_past_their_horizon(worker, producer, db, clean_tables):
    now = utcnow()
    old_minute = floor_hour(now - timedelta(days=3))
    recent_minute = floor_hour(now - timedelta(hours=2))
    old_hour = floor_hour(now - timedelta(days=40))
    period_hour = floor_hour(now - timedelta(days=20))
    with db.begin() as conn:
        conn.execute(
            text("INSERT INTO ops_flow_minutes VALUES ('checkout', :old, 1, 0), ('checkout', :recent, 1, 0)"),
            {"old": old_minute, "recent": recent_minute},
        )
        conn.execute(
            text("INSERT INTO ops_flow_hours VALUES ('checkout', :old, 1, 0), ('checkout', :kept, 1, 0)"),
            {"old": old_hour, "kept": period_hour},
        )
        rebuild_days(conn, ["checkout"])
        conn.execute(
            text(
                "INSERT INTO ops_ingested_batches (batch_id, received_at, accepted, rejected) "
                "VALUES ('old', :old, 1, 0), ('new', now(), 1, 0)"
            ),
            {"old": now - timedelta(days=8)},
        )
    producer.send_task("relops.prune_history", queue="evaluate")

    def pruned():
        with db.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM ops_ingested_batches")).scalar() == 1

    wait_for(pruned, what="old batch ids pruned")
    with db.connect() as conn:
        minutes = [r[0] for r in conn.execute(text("SELECT minute FROM ops_flow_minutes"))]
        hours = [r[0] for r in conn.execute(text("SELECT hour FROM ops_flow_hours"))]
        days = [r[0] for r in conn.execute(text("SELECT day FROM ops_flow_days"))]
        batches = [r[0] for r in conn.execute(text("SELECT batch_id FROM ops_ingested_batches"))]
    assert minutes == [recent_minute]
    assert hours == [period_hour]  # 20 days old: still inside the 30-day SLO period
    assert days == [floor_day(period_hour)]
    assert batches == ["new"]


def test_two_beats_by_mistake_double_no_tick(worker, relops_env, db, clean_tables, tmp_path, output_dir):
    beat_env = {**relops_env, "RELOPS_CONFIG": str(write_config(tmp_path / "beat.toml", tick_interval_s=10))}
    skipped_before = worker.log_text().count("event=tick.skipped")
    beats = [
        CeleryProcess(
            ["beat", f"--schedule={tmp_path / f'schedule-{i}'}", "--loglevel=INFO"],
            beat_env,
            output_dir / f"beat-twin-{i}.log",
        )
        for i in range(2)
    ]
    try:

        def both_sent_twice():
            return all(b.log_text().count("Sending due task evaluate-tick") >= 2 for b in beats)

        wait_for(both_sent_twice, timeout_s=60, what="each beat sending the tick at least twice")
    finally:
        for beat in beats:
            beat.stop()
    # A beat logs "Sending due task" before it publishes, so a beat stopped at that moment may
    # not have sent it: wait for the queue to drain rather than for a count of sends.
    broker = redis.Redis.from_url(relops_env["CELERY_BROKER_URL"])
    wait_for(lambda: broker.llen("evaluate") == 0, what="the twin beats' ticks consumed")
    broker.close()
    assert worker.log_text().count("event=tick.skipped") > skipped_before
    with db.connect() as conn:
        slots = conn.execute(text("SELECT count(*), count(DISTINCT slot) FROM ops_evaluation_ticks")).one()
    # The workers' slots are 300 s wide (their config), so four or more ticks sent by two beats
    # fall in one or two slots: exactly one evaluation each, the others skipped.
    assert slots[0] == slots[1] >= 1


def test_beat_ticks_and_a_restarted_beat_neither_doubles_nor_skips_ticks(
    relops_env, db, clean_tables, tmp_path, output_dir
):
    """Beat sends ticks that a worker evaluates; killed with SIGKILL (its schedule file possibly
    stale) and started again, it goes on from the next slot, each slot evaluated once. A dedicated
    worker shares beat's 10 s slots."""
    config = write_config(tmp_path / "beat-restart.toml", tick_interval_s=10)
    with claimed_redis_db(BASE_REDIS_URL, f"test-{RUN_ID}-beat-restart") as broker:
        env = {**relops_env, "REDIS_URL": broker, "CELERY_BROKER_URL": broker, "RELOPS_CONFIG": str(config)}
        name = f"relops-beat-restart-{RUN_ID}"
        evaluator = start_worker(env, output_dir / f"{name}.log", name, "evaluate", 1)
        beat_argv = ["beat", f"--schedule={tmp_path / 'beat-restart-schedule'}", "--loglevel=INFO"]
        beats = [CeleryProcess(beat_argv, env, output_dir / "beat-restart-1.log")]
        try:
            wait_for(lambda: len(tick_slots(db)) >= 1, timeout_s=45, what="a tick from the first beat, evaluated")
            assert "Sending due task evaluate-tick (relops.evaluate_tick)" in beats[0].log_text()
            os.killpg(beats[0].pid, signal.SIGKILL)
            wait_for(lambda: not beats[0].alive(), what="the first beat gone")
            before_restart = len(tick_slots(db))
            beats.append(CeleryProcess(beat_argv, env, output_dir / "beat-restart-2.log"))
            wait_for(lambda: len(tick_slots(db)) >= before_restart + 2, timeout_s=60, what="the restarted beat ticking")
        finally:
            for beat in beats:
                beat.stop()
            evaluator.stop()
    assert not any(beat.alive() for beat in beats)
    slots = tick_slots(db)
    assert len(slots) == len(set(slots))  # one evaluation per slot
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(slots)]
    # Beat's schedule drifts against the slot grid, so even an undisturbed beat may step over one
    # 10 s slot now and then; the restart must not add a longer hole.
    assert max(gaps) <= 20, f"slot gaps {gaps}"


def tick_slots(db) -> list:
    with db.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT slot FROM ops_evaluation_ticks ORDER BY slot"))]
