"""What the suite's Prometheus and Alertmanager harnesses share: a server child process on a loopback
port, its output in a log file, ready once its ``/-/ready`` answers, stopped by its PID."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

import requests

from tests.support.celery_process import poll_until

START_DEADLINE_S = 30.0
STOP_DEADLINE_S = 15.0


class ServerProcess:
    """A mixin: the class sets ``proc`` (None until started), ``url`` and ``log_path``."""

    proc: subprocess.Popen | None
    url: str
    log_path: Path
    #: How long it may take to answer /-/ready after it starts.
    start_deadline_s: float = START_DEADLINE_S

    def launch(self, command: Sequence[str], what: str) -> None:
        """Run ``command`` and wait until it answers /-/ready (RuntimeError, with its log, if it exits)."""
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        poll_until(self._ready, self.start_deadline_s, what=f"{what} ready")
        if not self.alive():
            raise RuntimeError(f"{what} exited at start:\n{self.log_text()[-3000:]}")

    def _ready(self) -> bool:
        if not self.alive():
            return True
        try:
            return requests.get(f"{self.url}/-/ready", timeout=1).ok
        except requests.ConnectionError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM by its PID (Alertmanager snapshots its silences and notification log on the way
        out); SIGKILL if it lingers."""
        if self.proc is None:
            return
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_DEADLINE_S)
        self.proc = None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
