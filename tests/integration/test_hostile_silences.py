"""Silences against hostile or broken input, run in this process against the real PostgreSQL, Redis
and local receivers: an alert pages when its silences cannot be evaluated, a stored pattern the
engine refuses mutes nothing, and the caps on silences and on their matchers hold, also against
adds racing each other."""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from relops import names
from relops.application.audit import Actor
from relops.application.silences import add_silence, expire
from relops.cli import cli
from relops.config import SilencesConfig
from relops.errors import InputRejected
from relops.matchers import parse_matcher
from relops.silencing import silences as silences_module
from relops.store.silences import insert_silence
from relops.timeutil import utcnow
from tests.integration.conftest import alert_event, run_cli
from tests.integration.inprocess import InProcessWorker
from tests.integration.queries import scalar

pytestmark = pytest.mark.integration
OPERATOR = Actor("alice", "cli", "test-host")


def dispatch(inproc: InProcessWorker, **event) -> None:
    inproc.send(names.TASK_DISPATCH_ALERT, **event)
    inproc.settle()


def add(inproc: InProcessWorker, *matchers: str, starts_in: timedelta = timedelta(0)) -> int:
    now = utcnow()
    return add_silence(
        inproc.deps.engine,
        inproc.deps.config,
        OPERATOR,
        matchers=[parse_matcher(m) for m in matchers],
        match_all=False,
        starts_at=now + starts_in,
        ends_at=now + starts_in + timedelta(hours=1),
        reason="deploy 4812",
        now=now,
    ).silence_id


def pages(sink, flow: str = "checkout") -> list[str]:
    return [r.json["text"] for r in sink.requests if f"{flow} burning" in r.json["text"]]


def store_unfinished_silences(db, count: int) -> None:
    """Silences as many as ``count``, straight into the table (as the silences benchmark does)."""
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops_silences (matchers, starts_at, ends_at, reason, created_by, created_via) "
                "SELECT jsonb_build_array(jsonb_build_object('name', 'flow', 'op', '=', 'value', 'f' || n)), "
                "now(), now() + interval '1 hour', 'many', 'bench', 'cli' FROM generate_series(1, :n) AS n"
            ),
            {"n": count},
        )


def test_an_alert_pages_when_its_silences_cannot_be_evaluated(inproc, db, webhook_sink, monkeypatch, caplog):
    silence_id = add(inproc, "flow=checkout")

    def broken(matchers, labels):
        raise RuntimeError("matching blew up")

    # Only the silences' matching breaks (routes match with the same matchers, elsewhere).
    monkeypatch.setattr(silences_module, "all_match", broken)
    with caplog.at_level(logging.ERROR, logger="relops.application.active_silences"):
        dispatch(inproc, **alert_event("checkout"))
        dispatch(inproc, **alert_event("checkout"))
    assert len(pages(webhook_sink)) == 1  # routed unmuted (the second within the first's dedup window)
    assert scalar(db, "SELECT silenced_by FROM ops_incidents WHERE fingerprint = 'slo:checkout'") is None
    assert scalar(db, "SELECT muted FROM ops_silences WHERE id = :id", id=silence_id) == 0
    assert inproc.deps.silences.failures == {"RuntimeError": 2}
    lines = [r.getMessage() for r in caplog.records if "silences.unevaluated" in r.getMessage()]
    assert len(lines) == 2 and "error=RuntimeError" in lines[0] and "routed unmuted" in lines[0], lines


def test_a_stored_pattern_the_engine_refuses_mutes_nothing_and_is_reported_once(inproc, db, webhook_sink, caplog):
    # As a silence added before relops matched with RE2 was stored: a lookahead, which RE2 refuses.
    with db.begin() as conn:
        now = utcnow()
        silence_id = insert_silence(
            conn,
            matchers=[{"name": "flow", "op": "=~", "value": "(?=check).*"}],
            match_all=False,
            starts_at=now,
            ends_at=now + timedelta(hours=1),
            reason="old pattern",
            created_by="alice",
            created_via="cli",
        )
    with caplog.at_level(logging.ERROR, logger="relops.application.active_silences"):
        dispatch(inproc, **alert_event("checkout"))
        dispatch(inproc, **alert_event("checkout"))  # the silences are loaded again
    assert len(pages(webhook_sink)) == 1
    assert scalar(db, "SELECT silenced_by FROM ops_incidents WHERE fingerprint = 'slo:checkout'") is None
    lines = [r.getMessage() for r in caplog.records if "silence.unusable" in r.getMessage()]
    assert len(lines) == 1 and f"silence=silence:{silence_id}" in lines[0] and "lookahead" in lines[0], lines
    inproc.send(names.TASK_CHECK_SILENCES)  # its notice still goes out, and the listing still shows it
    inproc.settle()
    assert any(f'Silence #{silence_id} by alice: flow=~"(?=check).*"' in r.json["text"] for r in webhook_sink.requests)
    assert 'flow=~"(?=check).*"' in run_cli("silence", "list")


def test_no_more_silences_than_the_cap_even_when_adds_race(inproc, db):
    config = inproc.deps.config.model_copy(update={"silences": SilencesConfig(max_silences=3)})
    inproc.deps = dataclasses.replace(inproc.deps, config=config)
    outcomes: list[int | InputRejected] = []
    start = threading.Barrier(8)

    def one_add(n: int) -> None:
        start.wait()
        try:
            outcomes.append(add(inproc, f"flow=f{n}", starts_in=timedelta(minutes=n % 2)))  # pending ones count
        except InputRejected as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=one_add, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    refused = [o for o in outcomes if isinstance(o, InputRejected)]
    added = [o for o in outcomes if isinstance(o, int)]
    assert (len(added), len(refused)) == (3, 5), outcomes
    assert refused[0].field == "silences"
    assert "3 silences are active or pending, the most allowed (silences.max_silences = 3)" in refused[0].reason
    assert scalar(db, "SELECT count(*) FROM ops_silences") == 3
    expire(inproc.deps.engine, OPERATOR, added[0], utcnow())
    add(inproc, "flow=checkout")  # an expired silence leaves room


def test_the_cli_refuses_too_many_matchers_refused_patterns_and_silences_over_the_cap(inproc, db):
    def refusal(*args: str) -> str:
        result = CliRunner().invoke(cli, ["silence", "add", *args, "--for", "1h", "--reason", "x"])
        assert result.exit_code == 2, result.output
        return result.output

    many = [arg for n in range(21) for arg in ("-m", f"flow!=f{n}")]
    assert "--match: 21 given, more than the 20 a silence may have (silences.max_matchers)" in refusal(*many)
    assert "backreferences are not supported" in refusal("-m", r'flow=~"(a+)\1"')
    assert "lookahead and lookbehind are not supported" in refusal("-m", 'flow=~"(?!test-).*"')
    assert run_cli("silence", "add", "-m", 'flow=~"(.*-)*eu-west"', "--for", "1h", "-r", "x").startswith("silence ")
    store_unfinished_silences(db, 999)  # 1,000 with the one above: the default cap
    assert "silences: 1000 silences are active or pending, the most allowed" in refusal("-m", "flow=checkout")
