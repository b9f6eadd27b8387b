"""examples/node run by Node.js against real relops processes: celery-node (from npm, pinned in the
example's lock file) straight to the broker, and fetch() to the intake. Each report lands exactly
once, even when the example is run twice with the same batch id."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from relops.localdev.sink import HttpSink, SinkResponse
from tests.debian_packages import ensure_commands
from tests.integration.conftest import CRON_JOB, run_cli, wait_for
from tests.support.celery_process import CeleryProcess
from tests.web_support import running_server

pytestmark = pytest.mark.integration
EXAMPLES = Path(__file__).parents[2] / "examples" / "node"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    yield installed_examples(tmp_path_factory)


def installed_examples(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """(node's path, a copy of examples/node with its locked dependencies installed by npm ci)."""
    node_path, npm_path = ensure_commands((("node", "nodejs"), ("npm",)), ("nodejs", "npm"))
    workdir = tmp_path_factory.mktemp("node-examples")
    for source in EXAMPLES.iterdir():
        if source.name != "node_modules":
            shutil.copy(source, workdir / source.name)
    installed = subprocess.run(
        [npm_path, "ci", "--no-audit", "--no-fund"], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    return node_path, workdir


@pytest.fixture(scope="module")
def intake_with_key(relops_env: dict[str, str], output_dir: Path) -> Iterator[tuple[str, str]]:
    key = run_cli("keys", "add", f"node-{uuid.uuid4().hex[:6]}", "--scope", "outcomes,cron").strip().splitlines()[-1]
    with running_server("intake", relops_env, output_dir / "intake-node.log") as (url, _):
        yield url, key


def run_example(node: tuple[str, Path], script: str, env: dict[str, str], *args: str) -> str:
    node_path, workdir = node
    done = subprocess.run(
        [node_path, script, *args],
        cwd=workdir,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, (script, done.stdout[-1000:], done.stderr[-2000:])
    return done.stdout


def duplicate_seen(worker: CeleryProcess, batch_id: str, times: int = 1) -> None:
    """The worker handled the resent batch (and counted nothing): only then is nothing of this test
    still in flight to land in the next test's tables."""
    line = f"event=ingest.duplicate_batch batch_id={batch_id}"
    wait_for(lambda: worker.log_text().count(line) >= times, what="the resent batch handled as a duplicate")


def counts(db: Engine) -> dict[str, tuple[int, int]]:
    with db.connect() as conn:
        rows = conn.execute(text("SELECT flow, sum(good), sum(bad) FROM ops_flow_minutes GROUP BY flow")).all()
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


def runs(db: Engine) -> list[Any]:
    with db.connect() as conn:
        return list(
            conn.execute(
                text("SELECT run_id, status, started_at, result FROM ops_cron_executions WHERE name = :n"),
                {"n": CRON_JOB},
            )
        )


def test_celery_node_reports_straight_to_the_broker(
    node: tuple[str, Path], relops_env: dict[str, str], worker: CeleryProcess, db: Engine, clean_tables: None
) -> None:
    env = {"RELOPS_BROKER_URL": relops_env["CELERY_BROKER_URL"]}
    batch_id = uuid.uuid4().hex
    for _ in range(2):  # the same batch twice: relops counts a batch id once
        assert batch_id in run_example(node, "outcomes-celery.mjs", env, batch_id)
    run_example(node, "cron-celery.mjs", env, CRON_JOB)
    wait_for(lambda: counts(db) == {"checkout": (118, 2), "login": (310, 0)}, what="the batch counted once")
    wait_for(lambda: [r.status for r in runs(db)] == ["success"] and runs(db)[0].started_at, what="the run recorded")
    assert runs(db)[0].result == {"rows": 42}
    duplicate_seen(worker, batch_id)
    with db.connect() as conn:
        batches = conn.execute(text("SELECT count(*) FROM ops_ingested_batches")).scalar_one()
    assert batches == 1


def test_fetch_reports_to_the_intake(
    node: tuple[str, Path],
    intake_with_key: tuple[str, str],
    worker: CeleryProcess,
    db: Engine,
    clean_tables: None,
) -> None:
    url, key = intake_with_key
    env = {"RELOPS_INTAKE_URL": url, "RELOPS_KEY": key}
    batch_id = uuid.uuid4().hex
    for _ in range(2):
        assert batch_id in run_example(node, "outcomes-http.mjs", env, batch_id)
    assert '"status":"success"' in run_example(node, "cron-http.mjs", env, CRON_JOB)
    wait_for(lambda: counts(db) == {"checkout": (118, 2), "login": (310, 0)}, what="the batch counted once")
    wait_for(lambda: [r.status for r in runs(db)] == ["success"] and runs(db)[0].started_at, what="the run recorded")
    assert runs(db)[0].result == "exported 42 rows"
    duplicate_seen(worker, batch_id)


@pytest.mark.parametrize("script", ["cron-http.mjs", "outcomes-http.mjs"])
@pytest.mark.parametrize("status", [302, 307])
def test_the_fetch_examples_refuse_a_redirect_and_plain_http_elsewhere(script: str, status: int) -> None:
    """An intake URL that redirects gets the key nowhere else (fetch follows redirects by default:
    a 307 resends the body, and the other host's 202 looked like success)."""
    (node_path,) = ensure_commands((("node", "nodejs"),), ("nodejs",))
    key = "rlk_node_key_never_leaves_0123456789"

    def run(intake_url: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "RELOPS_INTAKE_URL": intake_url, "RELOPS_KEY": key}
        return subprocess.run(
            [node_path, script, CRON_JOB], cwd=EXAMPLES, env=env, capture_output=True, text=True, timeout=60
        )

    with (
        HttpSink(default=SinkResponse(status=202, body=b'{"status": "success"}')) as elsewhere,
        HttpSink(
            default=SinkResponse(status=status, headers={"Location": f"http://localhost:{elsewhere.port}/x"})
        ) as intake,
    ):
        done = run(intake.url)
        assert intake.received >= 1
    assert done.returncode != 0, done.stdout
    assert elsewhere.received == 0, [(r.method, r.path) for r in elsewhere.requests]
    assert key not in done.stdout + done.stderr
    refused = run("http://relops.example:8081")  # refused before any connection
    assert refused.returncode != 0 and "must be https://" in refused.stderr
