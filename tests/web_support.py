"""A real `relops web` process and users for the dashboard tests (test_web_access, test_dashboard_browser)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import run_cli, wait_for
from tests.support.servers import free_port, stop_process

RELOPS = str(Path(sys.executable).parent / "relops")


def new_login(role: str) -> tuple[str, str]:
    """A new user with ``role``, made by `relops users add` (in this process): (name, token)."""
    name = f"{role}-{uuid.uuid4().hex[:6]}"
    return name, run_cli("users", "add", name, "--role", role).strip().splitlines()[-1]


def new_user(env: Mapping[str, str], role: str) -> str:
    """The token of a new user with ``role``."""
    return new_login(role)[1]


def sign_in(web: str, name: str, token: str, **headers: str) -> requests.Session:
    """A browser-like session signed in through the login form (the form's own origin)."""
    session = requests.Session()
    response = session.post(
        web + "/login",
        data={"name": name, "token": token},
        headers={"Origin": web, **headers},
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 303, (response.status_code, response.text[:300])
    return session


@contextmanager
def running_server(command: str, env: Mapping[str, str], log_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    """``relops <command> --port P`` (web or intake) on a free port with ``env``: its base URL and the
    process, which is stopped (by its PID) on leaving."""
    port = free_port()
    log = log_path.open("ab")
    process = subprocess.Popen(
        [RELOPS, command, "--port", str(port)],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(url + "/healthz", timeout=1).ok
        except requests.ConnectionError:
            return process.poll() is not None

    try:
        wait_for(up, timeout_s=30, what=f"relops {command} up")
        assert process.poll() is None, f"relops {command} exited at start"
        yield url, process
    finally:
        stop_process(process)
        log.close()


@contextmanager
def running_web(env: Mapping[str, str], log_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    with running_server("web", env, log_path) as running:
        yield running


@pytest.fixture(name="web", scope="module")
def web_fixture(relops_env, output_dir) -> Iterator[str]:
    """``web``: the base URL of a `relops web` process on a free port, one per test module that imports this."""
    # Tests seed counters between page loads: the budget charts are computed afresh every time.
    with running_web({**relops_env, "RELOPS_WEB_TRENDS_TTL_S": "0"}, output_dir / "web.log") as (url, _):
        yield url
