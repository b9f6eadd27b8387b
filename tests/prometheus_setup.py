"""Debian's Prometheus for the tests that scrape a real `relops web`, installed with apt-get when
missing (as the browser test installs Chromium: tests/debian_packages.py), and a server of the test's
own: on a free loopback port, with a config the test writes, its data in a directory of the run, and
stopped by its PID.

``SCRAPE_CONFIGS`` is the scrape config docs/guides/prometheus.md shows, placeholders and all: the
test fills it in and Prometheus runs it, and a unit test holds the page to it.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.debian_packages import INSTALL_TIMEOUT_S, PackagesUnavailable, ensure_commands
from tests.support.servers import free_port, stop_process

PACKAGES = ("prometheus",)
PrometheusUnavailable = PackagesUnavailable
#: How long a fresh server may take to open its storage and answer /-/ready.
READY_TIMEOUT_S = 60

#: relops' dashboard with a metrics key read from a file, and Flower's own task metrics with its
#: basic auth: what docs/guides/prometheus.md tells operators to put under scrape_configs.
SCRAPE_CONFIGS = """\
scrape_configs:
  - job_name: relops
    scrape_interval: {interval}
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: {key_file}
    static_configs:
      - targets: ["{relops_web}"]
  - job_name: flower
    scrape_interval: {interval}
    metrics_path: /metrics
    basic_auth:
      username: {flower_user}
      password_file: {flower_password_file}
    static_configs:
      - targets: ["{flower}"]
"""


def ensure_prometheus(timeout_s: float = INSTALL_TIMEOUT_S) -> str:
    """The prometheus binary's path; ``apt-get install``s Debian's package first when missing."""
    (binary,) = ensure_commands((("prometheus",),), PACKAGES, timeout_s)
    return binary


@contextmanager
def running_prometheus(config_text: str, workdir: Path, log_path: Path) -> Iterator[str]:
    """A Prometheus server with ``config_text`` as its config file, on a free 127.0.0.1 port: its base
    URL. Stopped by its PID on leaving (its data stays in ``workdir`` for reading after a failure)."""
    binary = ensure_prometheus()
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "prometheus.yml"
    config.write_text(config_text)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = log_path.open("ab")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1d",
            "--log.level=info",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prometheus exited with {process.returncode} at start (see {log_path})")
            try:
                if requests.get(url + "/-/ready", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prometheus not ready within {READY_TIMEOUT_S} s (see {log_path})")
            time.sleep(0.2)
        yield url
    finally:
        stop_process(process)
        log.close()


def query(prometheus: str, promql: str) -> list[dict[str, Any]]:
    """An instant query through Prometheus' HTTP API: the result vector (each with metric and value)."""
    response = requests.get(prometheus + "/api/v1/query", params={"query": promql}, timeout=10)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def targets(prometheus: str) -> list[dict[str, Any]]:
    """The active scrape targets, with their health and last error."""
    response = requests.get(prometheus + "/api/v1/targets", timeout=10)
    response.raise_for_status()
    return response.json()["data"]["activeTargets"]


if __name__ == "__main__":
    print(ensure_prometheus())
