"""Acknowledgements, resolutions and escalation checks racing from separate processes: every
incident ends in one consistent state, with exactly the notifications it was owed.

Team a's route (the test config) repeats every 4 s and escalates to the escalation email after
3 s; the incidents opened 10 s ago, so every check finds their escalation due. Two processes run
the check in a loop while a third acknowledges every incident and a fourth resolves every one, each
in its own shuffled order. State changes are compare-and-set in PostgreSQL, so:

- every incident ends resolved; it is acknowledged iff its acknowledgement came before its resolution;
- each escalation step is taken at most once, and its notification exists iff the step is recorded;
- nothing firing (repeat or escalation) is owed after the resolution, and the resolution goes
  exactly once to each receiver that heard the firing: team a, and the escalation email iff it was
  escalated.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import text

from relops import names
from relops.timeutil import utcnow
from tests.integration.conftest import alert_event
from tests.support.celery_process import REPO

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]
INCIDENTS = 40


def start(role: str, *args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.race_roles", role, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_ack_resolve_and_escalation_racing_leave_one_consistent_state(inproc, db, relops_env):
    opened = (utcnow() - timedelta(seconds=10)).isoformat()
    fingerprints = [f"slo:race-{i}" for i in range(INCIDENTS)]
    for fingerprint in fingerprints:
        event = alert_event("payments", fingerprint=fingerprint, dedup_key=fingerprint, occurred_at=opened)
        inproc.send(names.TASK_DISPATCH_ALERT, **{**event, "labels": {"team": "a", "flow": "payments"}})
    inproc.settle()
    with db.connect() as conn:
        ids = [str(r[0]) for r in conn.execute(text("SELECT id FROM ops_incidents ORDER BY id"))]
    assert len(ids) == INCIDENTS

    env = {**relops_env, "PATH": "/usr/bin:/bin"}
    racers = [
        start("check", "6", env=env),
        start("check", "6", env=env),
        start("ack", "1", *ids, env=env),
        start("resolve", "2", *fingerprints, env=env),
    ]
    results = []
    for racer in racers:
        out, err = racer.communicate(timeout=120)
        assert racer.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    checks, acked = results[0]["checks"] + results[1]["checks"], set(results[2]["acked"])
    assert checks > 10 and results[3] == {"resolved": INCIDENTS}

    with db.connect() as conn:
        incidents = {r.id: r for r in conn.execute(text("SELECT * FROM ops_incidents"))}
        notes = conn.execute(text("SELECT id, incident_id, receiver, kind FROM ops_notifications ORDER BY id")).all()
        audit = conn.execute(text("SELECT count(*) FROM ops_audit WHERE action = 'incident.ack'")).scalar()
    by_incident = defaultdict(list)
    for note in notes:
        by_incident[note.incident_id].append(note)
    escalated = 0
    for incident_id, row in incidents.items():
        assert row.status == "resolved"
        assert (row.acknowledged_at is not None) == (incident_id in acked)
        mine = by_incident[incident_id]
        steps = [e["to"] for e in row.escalations]
        escalation_notes = [n for n in mine if n.receiver == "escalation" and n.kind == "firing"]
        assert steps in ([], ["escalation"]) and len(escalation_notes) == len(steps)
        escalated += bool(steps)
        resolved = [n for n in mine if n.kind == "resolved"]
        assert sorted(n.receiver for n in resolved) == sorted(["team-a", *steps])
        first_resolved = min(n.id for n in resolved)
        assert all(n.id < first_resolved for n in mine if n.kind == "firing")
        assert next(n.receiver for n in mine if n.kind == "firing") == "team-a"  # the page that opened it
    assert audit == len(acked)
    # Every step the checkers claimed is recorded once, and nothing else was.
    assert results[0]["escalations"] + results[1]["escalations"] == escalated
