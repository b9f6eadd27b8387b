"""The client distribution (clients/python): built as a wheel, it holds one package and needs only
kombu and redis; run with nothing else on its path, it reports to a real relops worker and guards
calls with a breaker shared through the real Redis."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from sqlalchemy import Engine, text

from relops.timeutil import utcnow
from tests.integration.conftest import CRON_JOB
from tests.support.celery_process import CeleryProcess, poll_until

pytestmark = pytest.mark.integration
CLIENT_DIR = Path(__file__).parents[2] / "clients" / "python"
#: What a service must never get from installing the client.
SERVER_ONLY = (
    "relops",
    "celery",
    "fastapi",
    "starlette",
    "uvicorn",
    "flower",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "pydantic",
    "honcho",
    "tasks",
    "models",
    "workers",
    "celeryconfig",
)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            str(CLIENT_DIR),
            "-w",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (found,) = out.glob("relops_client-*.whl")
    return found


def test_the_wheel_holds_one_package_and_needs_only_kombu_and_redis(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"relops_client", "relops_client-0.1.0.dist-info"}, top_level
    assert "relops_client/breaker.lua" in names and "relops_client/py.typed" in names
    meta = zipfile.ZipFile(wheel).read("relops_client-0.1.0.dist-info/METADATA").decode()
    requires = sorted(line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:"))
    assert [Requirement(r).name for r in requires] == ["kombu", "redis"], requires


def _closure(requirements: list[str]) -> set[str]:
    """The installed distributions ``requirements`` need, transitively, with the extras they name
    (markers applied)."""
    visited: set[tuple[str, frozenset[str]]] = set()
    todo = [Requirement(line) for line in requirements]
    while todo:
        requirement = todo.pop()
        visit = (requirement.name.lower(), frozenset(requirement.extras))
        if visit in visited:
            continue
        visited.add(visit)
        extras = ["", *sorted(requirement.extras)]
        for line in metadata.requires(visit[0]) or []:
            needed = Requirement(line)
            environments = ({**default_environment(), "extra": extra} for extra in extras)
            if needed.marker is None or any(needed.marker.evaluate(env) for env in environments):
                todo.append(needed)
    return {name for name, _ in visited}


def _installed_entries(distribution: str) -> set[str]:
    """What pip put in site-packages for ``distribution``: its packages and modules, and its
    .dist-info (kombu asks importlib.metadata for redis' version)."""
    files = metadata.distribution(distribution).files or []
    return {
        file.parts[0].removesuffix(".py")
        for file in files
        if (len(file.parts) > 1 or file.suffix == ".py") and file.parts[0] not in ("__pycache__", "..")
        if not file.parts[0].endswith(".data")
    }


@pytest.fixture(scope="module")
def lean_path(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A directory holding the unpacked wheel and, linked from this virtualenv, only the packages of
    the distributions it requires: a service's environment after `pip install relops-client`."""
    site = tmp_path_factory.mktemp("lean-site")
    zipfile.ZipFile(wheel).extractall(site)
    installed = Path(metadata.distribution("kombu").locate_file(""))
    meta = zipfile.ZipFile(wheel).read("relops_client-0.1.0.dist-info/METADATA").decode()
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    for distribution in _closure(requires):
        for name in _installed_entries(distribution):
            source = installed / name if (installed / name).exists() else installed / f"{name}.py"
            if source.exists():
                (site / source.name).symlink_to(source)
    yield site


LEAN_SCRIPT = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
broker, job, flow, dependency = sys.argv[2:6]
from relops_client import BreakerSettings, OutcomeRecorder, configure, guard, is_degraded, with_cron_tracking
from relops_client.cron import broker_sender

recorder = OutcomeRecorder(broker_url=broker, start=False)
recorder.record(flow, ok=True)
recorder.record(flow, ok=False)
sent = recorder.flush(timeout_s=10)
recorder.close()

@with_cron_tracking(job, sender=broker_sender(broker))
def nightly():
    return {"rows": 3}

nightly()

configure({dependency: BreakerSettings(failure_threshold=2, open_s=60, refresh_s=0)}, redis_url=broker)

@guard(dependency, fallback="cached")
def flaky():
    raise ConnectionError("down")

answers = []
for _ in range(3):
    try:
        answers.append(flaky())
    except ConnectionError:
        answers.append("failed")
loaded = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"sent": sent, "answers": answers, "degraded": is_degraded(dependency), "modules": loaded}))
"""


def test_the_client_alone_reports_to_relops_and_shares_breakers(
    lean_path: Path,
    relops_env: dict[str, str],
    worker: CeleryProcess,
    db: Engine,
    clean_tables: None,
) -> None:
    dependency = f"lean-{uuid.uuid4().hex[:6]}"
    # -I: no user site, no environment variables, no current directory: only the lean path and the
    # standard library (-S drops this virtualenv's site-packages).
    ran = subprocess.run(
        [
            sys.executable,
            "-I",
            "-S",
            "-c",
            LEAN_SCRIPT,
            str(lean_path),
            relops_env["CELERY_BROKER_URL"],
            CRON_JOB,
            "login",
            dependency,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    report = json.loads(ran.stdout.strip().splitlines()[-1])
    assert report["sent"] is True, ran.stderr[-3000:]
    assert report["answers"] == ["failed", "failed", "cached"], "two failures open it; the third call falls back"
    assert report["degraded"] is True
    assert not set(report["modules"]) & set(SERVER_ONLY), set(report["modules"]) & set(SERVER_ONLY)

    from relops_client.breakers import BreakerRegistry

    from relops.config import BreakerSettings
    from relops.wiring import redis

    assert BreakerRegistry({dependency: BreakerSettings()}, redis).get(dependency).is_degraded(), "relops sees it open"

    def counted() -> bool:
        with db.connect() as conn:
            outcome = conn.execute(
                text("SELECT sum(good), sum(bad) FROM ops_flow_minutes WHERE flow = 'login' AND minute >= :m"),
                {"m": utcnow().replace(second=0, microsecond=0).replace(minute=0)},
            ).one()
            runs = conn.execute(
                text("SELECT status, result FROM ops_cron_executions WHERE name = :n"), {"n": CRON_JOB}
            ).all()
        seen.append((tuple(outcome), [tuple(r) for r in runs]))
        return seen[-1] == ((1, 1), [("success", {"rows": 3})])

    seen: list[object] = []
    try:
        poll_until(counted, 30, what="the lean client's batch and run recorded by the worker")
    except TimeoutError:
        pytest.fail(f"not recorded as sent; last seen (counts, runs): {seen[-1:]}")
