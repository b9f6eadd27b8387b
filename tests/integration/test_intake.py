"""The HTTP intake against real processes: a `relops intake` process, a real worker, PostgreSQL and
Redis. Every endpoint, every refusal, keys and their scopes, revocation, the broker-down 503, and
that no key ever reaches a log."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import Engine, text

from relops.intake.publisher import COMPRESS_MIN_BYTES
from relops.timeutil import floor_minute, iso_minute, utcnow
from tests.integration.conftest import CRON_JOB, run_cli, wait_for
from tests.integration.queries import flow_totals
from tests.support.celery_process import CeleryProcess
from tests.tcp_proxy import TcpProxy
from tests.web_support import free_port, running_server

pytestmark = pytest.mark.integration


def new_key(*options: str) -> str:
    """A report key made by `relops keys add` (in this process); the key it printed once."""
    name = f"svc-{uuid.uuid4().hex[:6]}"
    return run_cli("keys", "add", name, *options).strip().splitlines()[-1]


@contextmanager
def running_intake(env: Mapping[str, str], log_path: Path) -> Iterator[str]:
    """A `relops intake` process on a free port; stopped by its PID on leaving."""
    with running_server("intake", env, log_path) as (url, _):
        yield url


@pytest.fixture(scope="module")
def module_keys(relops_env: dict[str, str]) -> dict[str, str]:
    """Keys made before the intake starts, so it knows them from its first request."""
    return {
        "cron": new_key("--scope", "cron"),
        "outcomes": new_key("--scope", "outcomes"),
        "checkout only": new_key("--scope", "outcomes", "--flows", "checkout"),
    }


@pytest.fixture(scope="module")
def intake(relops_env: dict[str, str], output_dir: Path, module_keys: dict[str, str]) -> Iterator[str]:
    with running_intake(relops_env, output_dir / "intake.log") as url:
        yield url


@pytest.fixture(scope="module")
def cron_key(module_keys: dict[str, str]) -> str:
    return module_keys["cron"]


@pytest.fixture(scope="module")
def outcomes_key(module_keys: dict[str, str]) -> str:
    return module_keys["outcomes"]


def known_cron_key(intake: str, key: str) -> str:
    """``key`` once the intake has loaded it (it reloads keys every second). The probe asks for an
    unknown job: refused with 404 once the key is known, with 401 before; it reports nothing."""
    probe = f"{intake}/api/v1/cron/no-such-job"
    wait_for(lambda: requests.get(probe, headers=bearer(key), timeout=5).status_code == 404, what="key loaded")
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def executions(db: Engine, job: str = CRON_JOB) -> list[Any]:
    with db.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT run_id, status, started_at, finished_at, duration_ms, result, error "
                    "FROM ops_cron_executions WHERE name = :name ORDER BY started_at NULLS LAST"
                ),
                {"name": job},
            )
        )


def rejection_rows(db: Engine) -> list[Any]:
    with db.connect() as conn:
        return list(
            conn.execute(text("SELECT task, reference, field, reason, excerpt FROM ops_rejected_inputs ORDER BY id"))
        )


def refusals_in(row: Any) -> int:
    """How many refusals a rejection row stands for (one, unless its reason counts them)."""
    counted = re.match(r"(\d+) requests refused with", row.reason)
    return int(counted.group(1)) if counted else 1


def minute_now() -> str:
    return utcnow().strftime("%Y-%m-%dT%H:%M:00Z")


def test_a_crontab_line_pairs_start_and_end_without_a_run_id(
    intake: str, cron_key: str, worker: CeleryProcess, db: Engine, clean_tables: None
) -> None:
    ping = f"{intake}/api/v1/ping/{cron_key}/{CRON_JOB}"
    started = requests.get(ping + "/start", timeout=10)
    assert started.status_code == 202, started.text
    head = requests.head(ping, timeout=10)  # curl -I works too: HEAD is a success ping
    assert head.status_code == 202
    # Both events handled (in either order: the merge keeps the start's time and the end's status).
    rows = wait_for(
        lambda: [r for r in executions(db) if r.status == "success" and r.started_at is not None] or None,
        what="the run recorded",
    )
    assert len(rows) == 1
    run = rows[0]
    assert run.run_id == started.json()["run_id"]
    assert run.started_at is not None and run.finished_at is not None
    assert run.duration_ms is not None and run.duration_ms >= 0
    assert len(executions(db)) == 1, "the start and the end are one run"


def test_bearer_pings_carry_run_ids_durations_results_and_errors(
    intake: str, cron_key: str, worker: CeleryProcess, db: Engine, clean_tables: None
) -> None:
    base = f"{intake}/api/v1/cron/{CRON_JOB}"
    ok = requests.post(base, params={"run_id": "r-1", "duration_ms": "1500"}, data="42 rows", headers=bearer(cron_key))
    assert ok.status_code == 202, ok.text
    assert ok.json() == {"run_id": "r-1", "status": "success"}
    failed = requests.post(
        base + "/fail", json={"run_id": "r-2", "error": "disk full", "duration_ms": 30}, headers=bearer(cron_key)
    )
    assert failed.status_code == 202, failed.text
    wait_for(lambda: {r.run_id for r in executions(db)} >= {"r-1", "r-2"}, what="both runs recorded")
    by_id = {row.run_id: row for row in executions(db)}
    assert by_id["r-1"].status == "success" and by_id["r-1"].result == "42 rows" and by_id["r-1"].duration_ms == 1500
    assert by_id["r-2"].status == "failure" and by_id["r-2"].error == "disk full"


def test_an_outcome_batch_counts_once_however_often_it_is_sent(
    intake: str, outcomes_key: str, worker: CeleryProcess, db: Engine, clean_tables: None
) -> None:
    batch = {"batch_id": uuid.uuid4().hex, "counts": [{"flow": "login", "minute": minute_now(), "good": 7, "bad": 2}]}
    for _ in range(3):
        answer = requests.post(f"{intake}/api/v1/outcomes", json=batch, headers=bearer(outcomes_key), timeout=10)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"batch_id": batch["batch_id"]}
    wait_for(lambda: flow_totals(db, "login") == (7, 2), what="the batch counted")
    duplicate = f"event=ingest.duplicate_batch batch_id={batch['batch_id']}"
    wait_for(lambda: worker.log_text().count(duplicate) >= 2, what="both resends handled as duplicates")
    unnamed = requests.post(
        f"{intake}/api/v1/outcomes",
        json={"counts": [{"flow": "login", "minute": minute_now(), "good": 1, "bad": 0}]},
        headers=bearer(outcomes_key),
        timeout=10,
    )
    assert unnamed.status_code == 202 and len(unnamed.json()["batch_id"]) == 32
    wait_for(lambda: flow_totals(db, "login") == (8, 2), what="the unnamed batch counted")
    now = floor_minute(utcnow())
    hour = [
        {"flow": "checkout", "minute": iso_minute(now - timedelta(minutes=i)), "good": 1, "bad": 0} for i in range(60)
    ]
    assert len(json.dumps(hour)) > COMPRESS_MIN_BYTES, "a batch this large travels compressed"
    large = requests.post(f"{intake}/api/v1/outcomes", json={"counts": hour}, headers=bearer(outcomes_key), timeout=10)
    assert large.status_code == 202, large.text
    wait_for(lambda: flow_totals(db, "checkout") == (60, 0), what="the compressed batch counted by a Celery worker")


def test_every_refusal_names_its_reason_and_is_recorded(
    intake: str, module_keys: dict[str, str], cron_key: str, outcomes_key: str, db: Engine, clean_tables: None
) -> None:
    narrow = module_keys["checkout only"]
    outcomes = f"{intake}/api/v1/outcomes"
    cron = f"{intake}/api/v1/cron/{CRON_JOB}"
    good_item = {"flow": "checkout", "minute": minute_now(), "good": 1, "bad": 0}
    cases: list[tuple[str, requests.Response, int, str]] = [
        ("no key", requests.post(outcomes, json={"counts": []}, timeout=10), 401, "Authorization"),
        ("unknown key", requests.get(cron, headers=bearer("rlk_" + "x" * 43), timeout=10), 401, "key"),
        ("unknown ping key", requests.get(f"{intake}/api/v1/ping/nokey/{CRON_JOB}", timeout=10), 401, "key"),
        ("wrong scope", requests.get(cron, headers=bearer(outcomes_key), timeout=10), 403, "key"),
        (
            "flow outside the key",
            requests.post(
                outcomes, json={"counts": [{**good_item, "flow": "login"}]}, headers=bearer(narrow), timeout=10
            ),
            403,
            "key",
        ),
        ("unknown job", requests.get(f"{intake}/api/v1/cron/no-such-job", headers=bearer(cron_key)), 404, "job"),
        (
            "unknown flow",
            requests.post(
                outcomes, json={"counts": [good_item, {**good_item, "flow": "nope"}]}, headers=bearer(outcomes_key)
            ),
            404,
            "flow",
        ),
        ("not JSON", requests.post(outcomes, data="{", headers=bearer(outcomes_key)), 400, "body"),
        (
            "bad count",
            requests.post(outcomes, json={"counts": [{**good_item, "good": -1}]}, headers=bearer(outcomes_key)),
            422,
            "good",
        ),
        (
            "bad duration",
            requests.get(cron, params={"duration_ms": "soon"}, headers=bearer(cron_key)),
            422,
            "duration_ms",
        ),
        ("unknown field", requests.post(outcomes, json={"counts": [], "x": 1}, headers=bearer(outcomes_key)), 422, "x"),
        (
            "too large",
            requests.post(outcomes, data=b"[" * 1_100_000, headers=bearer(outcomes_key)),
            413,
            "body",
        ),
        ("text on a start", requests.post(cron + "/start", data="hi", headers=bearer(cron_key)), 422, "body"),
        (
            # Chunked, so no Content-Length says so up front: refused while reading.
            "too large, chunked",
            requests.post(outcomes, data=iter([b"[" * 600_000, b"[" * 600_000]), headers=bearer(outcomes_key)),
            413,
            "body",
        ),
    ]
    for what, response, status, field in cases:
        assert response.status_code == status, (what, response.status_code, response.text)
        assert response.json()["field"] == field, (what, response.json())
        assert response.json()["error"], what
    refused = next(r for w, r, _, _ in cases if w == "unknown flow")
    assert refused.json()["item"] == 1
    assert cases[0][1].headers["WWW-Authenticate"] == "Bearer"

    def recorded() -> list[Any] | None:
        rows = [row for row in rejection_rows(db) if row.task.startswith("intake:")]
        return rows if sum(map(refusals_in, rows)) >= len(cases) else None

    # Refusals of one status, endpoint and key within a second share a row that counts them.
    rows = wait_for(recorded, what="every refusal recorded")
    assert sum(map(refusals_in, rows)) == len(cases)
    assert {row.field for row in rows} <= {field for _, _, _, field in cases}
    assert {"Authorization", "job", "flow", "body"} <= {row.field for row in rows}
    assert not any(cron_key in row.excerpt or outcomes_key in row.excerpt for row in rows)


def test_a_key_over_its_rate_is_told_when_to_come_back(
    intake: str, worker: CeleryProcess, db: Engine, clean_tables: None
) -> None:
    key = known_cron_key(intake, new_key("--scope", "cron", "--rate", "0.1", "--burst", "3"))
    statuses = []
    for _ in range(5):
        answer = requests.get(f"{intake}/api/v1/cron/{CRON_JOB}", headers=bearer(key), timeout=10)
        statuses.append(answer.status_code)
        if answer.status_code == 429:
            assert int(answer.headers["Retry-After"]) >= 1
            assert answer.json()["field"] == "key"
    assert statuses == [202, 202, 202, 429, 429]
    rows = wait_for(
        lambda: [r for r in rejection_rows(db) if r.task == "intake" and "429" in r.reason] or None,
        what="the 429s recorded",
    )
    assert sum(int(re.search(r"(\d+) request", row.reason).group(1)) for row in rows) == 2


def test_a_revoked_key_stops_working_within_seconds(intake: str, db: Engine, clean_tables: None) -> None:
    name = f"svc-{uuid.uuid4().hex[:6]}"
    key = run_cli("keys", "add", name, "--scope", "cron").strip().splitlines()[-1]
    url = f"{intake}/api/v1/ping/{key}/{CRON_JOB}"
    wait_for(lambda: requests.get(url, timeout=5).status_code == 202, timeout_s=10, what="a new key accepted")
    assert "revoked" in run_cli("keys", "revoke", name)
    wait_for(lambda: requests.get(url, timeout=5).status_code == 401, timeout_s=10, what="the revoked key refused")
    listed = run_cli("keys", "list")
    assert name in listed and "revoked" in listed
    with db.connect() as conn:
        audited = conn.execute(
            text("SELECT action FROM ops_audit WHERE target = :t ORDER BY id"), {"t": f"key {name}"}
        ).scalars()
        assert list(audited) == ["key.add", "key.revoke"]


def test_keys_list_shows_limits_and_add_refuses_unknown_flows(relops_env: dict[str, str]) -> None:
    from click.testing import CliRunner

    from relops.cli import cli

    result = CliRunner().invoke(
        cli, ["keys", "add", "x-" + uuid.uuid4().hex[:4], "--scope", "outcomes", "--flows", "nope"]
    )
    assert result.exit_code != 0 and "nope" in result.output and "not a flow" in result.output
    result = CliRunner().invoke(cli, ["keys", "add", "y-" + uuid.uuid4().hex[:4], "--scope", "read"])
    assert result.exit_code != 0 and "outcomes, cron" in result.output


@pytest.fixture
def broker_proxy(redis_url: str) -> Iterator[TcpProxy]:
    upstream = urlsplit(redis_url)
    proxy = TcpProxy((upstream.hostname or "127.0.0.1", upstream.port or 6379), free_port())
    proxy.start()
    yield proxy
    proxy.stop()


def test_with_the_broker_down_nothing_is_answered_202(
    relops_env: dict[str, str],
    broker_proxy: TcpProxy,
    worker: CeleryProcess,
    output_dir: Path,
    db: Engine,
    clean_tables: None,
) -> None:
    """The intake's broker goes through a proxy that is cut: every report is refused with 503 and
    Retry-After, none is answered 202; with the broker back, reports are accepted again."""
    broker_url = f"redis://127.0.0.1:{broker_proxy.port}{urlsplit(relops_env['REDIS_URL']).path}"
    key = new_key("--scope", "cron")
    with running_intake({**relops_env, "CELERY_BROKER_URL": broker_url}, output_dir / "intake-broker.log") as url:
        ping = f"{url}/api/v1/ping/{key}/{CRON_JOB}"
        assert requests.get(ping, timeout=10).status_code == 202
        broker_proxy.stop()
        answers = [requests.get(ping, params={"run_id": f"down-{i}"}, timeout=10) for i in range(5)]
        assert [a.status_code for a in answers] == [503] * 5
        assert all(int(a.headers["Retry-After"]) > 0 for a in answers)
        assert "broker" in answers[0].json()["error"]
        broker_proxy.start()
        wait_for(
            lambda: requests.get(ping, params={"run_id": "back"}, timeout=10).status_code == 202,
            timeout_s=15,
            what="accepted again with the broker back",
        )
    wait_for(lambda: any(r.run_id == "back" for r in executions(db)), what="the accepted ping recorded")
    assert not any(r.run_id.startswith("down-") for r in executions(db)), "nothing refused was queued"
    rows = [r for r in rejection_rows(db) if r.task == "intake:cron" and r.field == "broker"]
    assert sum(map(refusals_in, rows)) >= 5


def test_the_python_client_pings_and_ships_outcomes_over_http(
    intake: str, module_keys: dict[str, str], worker: CeleryProcess, db: Engine, clean_tables: None
) -> None:
    from relops_client import OutcomeRecorder, http_sender, ping

    assert ping(intake, module_keys["cron"], CRON_JOB, "start") is True
    assert ping(intake, module_keys["cron"], CRON_JOB, body="12 rows") is True
    assert ping(intake, module_keys["cron"], "no-such-job", retries=0) is False, "refused: logged, never raised"
    recorder = OutcomeRecorder(broker_url="unused://", start=False, sender=http_sender(intake, module_keys["outcomes"]))
    recorder.record("login", ok=True)
    recorder.record("login", ok=False)
    assert recorder.flush(timeout_s=10) is True
    recorder.close()
    wait_for(lambda: flow_totals(db, "login") == (1, 1), what="the recorder's batch counted")
    wait_for(
        lambda: [(r.status, r.result) for r in executions(db) if r.started_at] == [("success", "12 rows")],
        what="the pinged run recorded, start and end paired",
    )


def guide_crontab() -> tuple[dict[str, str], str]:
    """The integration guide's crontab example (docs/guides/integrate.md): its variable lines and its
    job's command."""
    lines = (Path(__file__).parents[2] / "docs" / "guides" / "integrate.md").read_text().splitlines()
    start = lines.index("RELOPS=https://relops.example/api/v1/ping/rlk_...your-key...")
    variables = dict(line.split("=", 1) for line in lines[start : start + 2])
    command = lines[start + 2].split(" ", 5)[5]  # after the five schedule fields
    return variables, command


def test_the_guide_crontab_line_reports_success_and_failure(
    intake: str, cron_key: str, worker: CeleryProcess, db: Engine, clean_tables: None
) -> None:
    """The guide's line, run by sh as cron would (its variables in the environment), with the job
    swapped for `true` and then `false`: one successful run, then one failed run, each paired."""
    variables, command = guide_crontab()
    env = {**os.environ, **variables, "RELOPS": f"{intake}/api/v1/ping/{cron_key}"}
    for job, status in (("true", "success"), ("false", "failure")):
        line = command.replace("/usr/local/bin/export", job).replace("nightly-export", CRON_JOB)
        finished = subprocess.run(["sh", "-c", line], env=env, capture_output=True, text=True, timeout=60)
        assert finished.returncode == 0, finished.stderr
        wait_for(
            lambda status=status: any(r.started_at and r.status == status for r in executions(db)),
            what=f"the {status} run recorded",
        )
    runs = executions(db)
    assert sorted(r.status for r in runs) == ["failure", "success"], "each start paired with its end"
    assert all(r.duration_ms is not None for r in runs)


def test_no_key_reaches_a_log(
    intake: str, cron_key: str, outcomes_key: str, worker: CeleryProcess, db: Engine, output_dir: Path
) -> None:
    """Last in the module, after its requests (ping URLs, bearer headers, refusals): neither the
    intake's log, access lines included, nor the worker's quotes a key."""
    requests.get(f"{intake}/api/v1/ping/{cron_key}/{CRON_JOB}", params={"run_id": "log-check"}, timeout=10)
    requests.get(f"{intake}/api/v1/ping/{cron_key}/no-such-job", timeout=10)
    wait_for(lambda: any(r.run_id == "log-check" for r in executions(db)), what="the ping handled by the worker")
    log = (output_dir / "intake.log").read_text()
    assert "/api/v1/ping/***/" in log, "the access log shows ping URLs, redacted"
    for path in output_dir.glob("*.log"):
        written = path.read_text(errors="replace")
        assert cron_key not in written and outcomes_key not in written, path.name
        assert cron_key[4:20] not in written, path.name


def test_deeply_nested_json_is_refused_with_400(intake: str, cron_key: str, outcomes_key: str) -> None:
    """Nesting Python's json cannot decode (RecursionError), and nesting it can but the workers would
    refuse (relops.safe_json), are both the sender's fault: 400 naming the body, never a 500."""
    too_deep_for_python = b'{"counts": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    hundred_deep = json.loads("[" * 100 + "]" * 100)
    item = {"flow": "login", "minute": minute_now(), "good": 1, "bad": 0, "x": hundred_deep}
    too_deep_for_workers = json.dumps({"counts": [item]}).encode()
    cases = [
        (f"{intake}/api/v1/outcomes", too_deep_for_python, outcomes_key),
        (f"{intake}/api/v1/outcomes", too_deep_for_workers, outcomes_key),
        (f"{intake}/api/v1/cron/{CRON_JOB}", b'{"result": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", cron_key),
        (f"{intake}/api/v1/cron/{CRON_JOB}", json.dumps({"result": hundred_deep}).encode(), cron_key),
    ]
    for url, body, key in cases:
        headers = {**bearer(key), "Content-Type": "application/json"}
        answer = requests.post(url, data=body, headers=headers, timeout=10)
        assert answer.status_code == 400, (url, len(body), answer.status_code, answer.text[:200])
        assert answer.json()["field"] == "body" and "nested" in answer.json()["error"]


def test_a_limited_key_learns_nothing_about_flows_and_jobs_outside_it(
    intake: str, module_keys: dict[str, str], clean_tables: None
) -> None:
    """A key limited to some flows or jobs is refused with the same 403 for a name outside its list
    whether that name exists or not, whatever else is wrong with the report."""
    narrow = new_key("--scope", "cron,outcomes", "--flows", "checkout", "--jobs", CRON_JOB)
    outcomes = f"{intake}/api/v1/outcomes"
    probe = f"{intake}/api/v1/cron/{CRON_JOB}/nothing"  # 404 for the path once the key is known
    wait_for(lambda: requests.get(probe, headers=bearer(narrow), timeout=5).status_code == 404, what="key loaded")

    def batch(flow: str, minute: str, batch_id: str) -> requests.Response:
        item = {"flow": flow, "minute": minute, "good": 1, "bad": 0}
        sent = {"batch_id": batch_id, "counts": [item]}
        return requests.post(outcomes, json=sent, headers=bearer(narrow), timeout=10)

    # A valid batch of an existing flow, an invalid minute, an invalid batch_id: none tells them apart.
    for minute, batch_id in ((minute_now(), "b-1"), ("not a minute", "b-2"), (minute_now(), "b" * 500)):
        answers = [batch("login", minute, batch_id), batch("no-such-flow", minute, batch_id)]
        assert [a.status_code for a in answers] == [403, 403], [a.text for a in answers]
        assert [a.json()["field"] for a in answers] == ["key", "key"]
    pings = [
        requests.get(f"{intake}/api/v1/cron/{job}", headers=bearer(narrow), timeout=10)
        for job in ("other-job", "no-such-job")
    ]
    pings += [requests.get(f"{intake}/api/v1/ping/{narrow}/{job}", timeout=10) for job in ("other-job", "no-such-job")]
    assert [p.status_code for p in pings] == [403] * 4, [p.text for p in pings]


def test_a_body_over_the_limit_is_answered_413_not_a_connection_reset(
    intake: str, cron_key: str, outcomes_key: str
) -> None:
    """Python's urllib sends the whole body, and asks to close the connection, before it reads the
    answer: the intake reads and drops the body (up to a bound) so the client sees the 413, or the
    401 when its key is wrong, rather than a reset. A reset came one time in ten at 2 MiB, always at 4."""
    import urllib.error
    import urllib.request

    mib = 1_048_576
    cases = [(f"{intake}/api/v1/outcomes", outcomes_key, 2 * mib, 413)] * 10 + [
        (f"{intake}/api/v1/outcomes", outcomes_key, 4 * mib, 413),
        (f"{intake}/api/v1/cron/{CRON_JOB}", cron_key, 4 * mib, 413),
        (f"{intake}/api/v1/outcomes", "rlk_" + "x" * 43, 4 * mib, 401),
    ]
    for url, key, size, status in cases:
        request = urllib.request.Request(url, data=b"x" * size, headers=bearer(key), method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == status, url
        assert json.loads(refused.value.read())["field"] in ("body", "key")
