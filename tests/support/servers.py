"""Server processes the tests start (Flower, Prometheus, `relops web` and `relops intake`): a free
loopback port, and stopping one by its PID."""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

from tests.support.celery_process import CeleryProcess, poll_until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen, timeout_s: float = 20.0) -> None:
    """SIGTERM to the process (by its PID), then SIGKILL if it has not exited within ``timeout_s``."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)


@contextmanager
def running_flower(env: Mapping[str, str], log_path: Path, basic_auth: str) -> Iterator[str]:
    """Flower as the Procfile runs it (``basic_auth`` is its user:password) on a free port: its base
    URL. Stopped by its PID on leaving."""
    port = free_port()
    process = CeleryProcess(
        ["flower", f"--port={port}", "--address=127.0.0.1", f"--basic-auth={basic_auth}"], env, log_path
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if not process.alive():
            return True
        try:
            return requests.get(url + "/healthcheck", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        poll_until(up, 60, what="flower answering")
        if not process.alive():
            raise RuntimeError(f"flower exited at start:\n{process.log_text()[-3000:]}")
        yield url
    finally:
        process.stop()
