"""Real ``celery`` processes for tests and benchmarks: started, waited for, stopped by PID."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from relops.errors import RelopsError

#: The checkout: Celery processes run from here, so the benchmarks can --include their own modules.
REPO = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).parent / "celery")


def poll_until(predicate: Callable[[], Any], timeout_s: float = 30.0, interval_s: float = 0.1, what: str = "") -> Any:
    """Poll until ``predicate`` returns something truthy; TimeoutError naming ``what`` at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s}s waiting for {what or predicate}")
        time.sleep(interval_s)


class CeleryProcess:
    """A ``celery -A workers ...`` subprocess in its own session, logging to a file."""

    def __init__(self, args: Sequence[str], env: Mapping[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [CELERY, "-A", "workers", *args],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 20.0) -> None:
        """Warm shutdown (SIGTERM to the process group), then SIGKILL if it does not exit in time."""
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout_s)
        self._log.close()


def start_worker(
    env: Mapping[str, str],
    log_path: Path,
    name: str,
    queues: str = "ingest,evaluate,alerts,cron",
    concurrency: int = 2,
    extra_args: Sequence[str] = (),
    loglevel: str = "INFO",
) -> CeleryProcess:
    """Start a worker and return once it logs that it is ready."""
    worker = CeleryProcess(
        [
            "worker",
            "-Q",
            queues,
            "-n",
            f"{name}@%h",
            f"--concurrency={concurrency}",
            f"--loglevel={loglevel}",
            "--without-gossip",
            "--without-mingle",
            *extra_args,
        ],
        env,
        log_path,
    )
    try:
        poll_until(lambda: " ready." in worker.log_text() or not worker.alive(), 60, what=f"worker {name} ready")
    except TimeoutError:
        worker.stop()
        raise
    if not worker.alive():
        raise RelopsError(f"worker {name} exited at start:\n{worker.log_text()[-3000:]}")
    return worker
