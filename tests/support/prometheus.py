"""A real Prometheus for tests, and the exporter it scrapes: Debian's ``prometheus`` (installed with
apt-get when missing, as the browser tests install Chromium), started on a free loopback port with a
config and a rule file written here, its alerts sent to one Alertmanager, and stopped by its PID.

    with GaugeExporter("checkout_errors_ratio", 0.2) as exporter, running_prometheus(
        tmp_path, exporter.target, RULES, alertmanager=am.target
    ) as prom:
        prom.alerts()                   # GET /api/v1/alerts: the rules' pending and firing alerts
        exporter.value = 0.0            # the next scrape sees it recover

Scrapes and rule evaluations run every second, so an alert with ``for: 0s`` fires within about two
seconds of the exporter's change and resolves as quickly; Prometheus sends a resolved alert to
Alertmanager at once, and re-sends firing ones every ``--rules.alert.resend-delay`` (1 s here).
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self

import requests

from tests.debian_packages import INSTALL_TIMEOUT_S, ensure_commands
from tests.support.server_process import ServerProcess
from tests.web_support import free_port

PACKAGES = ("prometheus",)
HOST = "127.0.0.1"
CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {rules}
alerting:
  alertmanagers:
    - static_configs:
        - targets: ['{alertmanager}']
scrape_configs:
  - job_name: exporter
    static_configs:
      - targets: ['{target}']
"""


#: relops' dashboard with a metrics key read from a file, and Flower's own task metrics with its
#: basic auth: what docs/guides/prometheus.md tells operators to put under scrape_configs
#: (placeholders and all: the test fills it in and Prometheus runs it; a unit test holds the page to it).
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
    """The path of Debian's Prometheus; ``apt-get install``s it first when missing."""
    (path,) = ensure_commands((("prometheus",),), PACKAGES, timeout_s)
    return path


class _Exporter:
    """A tiny exporter a test controls: ``GET /metrics`` serves ``exposition()``, and each scrape is
    counted, so a test can wait until Prometheus has seen a change."""

    def __init__(self, thread_name: str) -> None:
        self.scrapes = 0
        self._lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with exporter._lock:
                    exporter.scrapes += 1
                    body = exporter.exposition().encode()
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # a scrape a second would flood the test's output

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name=thread_name, daemon=True)

    def exposition(self) -> str:
        raise NotImplementedError

    @property
    def target(self) -> str:
        return f"{HOST}:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


class GaugeExporter(_Exporter):
    """Serves one gauge at ``value``."""

    def __init__(self, name: str, value: float) -> None:
        super().__init__("gauge-exporter")
        self.name = name
        self.value = value

    def exposition(self) -> str:
        return f"# TYPE {self.name} gauge\n{self.name} {self.value}\n"


class CounterExporter(_Exporter):
    """Serves request counters the test drives: ``<name>{code="..."}`` for every code in ``values``."""

    def __init__(self, name: str, codes: tuple[str, ...]) -> None:
        super().__init__("counter-exporter")
        self.name = name
        self.values = dict.fromkeys(codes, 0.0)

    def exposition(self) -> str:
        lines = [f"# TYPE {self.name} counter"]
        lines += [f'{self.name}{{code="{code}"}} {value}' for code, value in self.values.items()]
        return "\n".join(lines) + "\n"

    def add(self, code: str, count: int) -> None:
        with self._lock:
            self.values[code] += count

    def restart(self) -> None:
        """The exporting process restarted: every counter begins again at 0."""
        with self._lock:
            self.values = dict.fromkeys(self.values, 0.0)


def create_blocks(storage: Path, openmetrics: str, timeout_s: float = 120.0) -> None:
    """Write ``openmetrics`` (OpenMetrics text with timestamps, ending ``# EOF``) as TSDB blocks into
    ``storage``, as ``promtool tsdb create-blocks-from openmetrics`` does: history with exact
    timestamps a Prometheus started on ``storage`` then serves, with no waiting for scrapes."""
    (promtool,) = ensure_commands((("promtool",),), PACKAGES, INSTALL_TIMEOUT_S)
    storage.mkdir(parents=True, exist_ok=True)
    source = storage.parent / "history.om"
    source.write_text(openmetrics)
    created = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(storage)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if created.returncode != 0:
        raise RuntimeError(f"promtool could not create blocks: {created.stderr[-2000:]}")


@dataclass
class Prometheus(ServerProcess):
    """One Prometheus child process running ``config_text`` (its config file's YAML), its data and log
    in ``root``."""

    binary: str
    root: Path
    config_text: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    #: A fresh server opens its storage before it answers /-/ready; on two busy cores that can be slow.
    start_deadline_s: float = 60.0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.root / "prometheus.log"

    def start(self) -> None:
        """Start on ``port`` and wait until it answers /-/ready."""
        config = self.root / "prometheus.yml"
        config.write_text(self.config_text)
        storage = self.root / "data"
        storage.mkdir(parents=True, exist_ok=True)
        self.launch(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={storage}",
                f"--web.listen-address={HOST}:{self.port}",
                "--rules.alert.resend-delay=1s",
                "--log.level=info",
            ],
            f"Prometheus on port {self.port}",
        )

    def _api(self, path: str, **params: str) -> Any:
        response = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def alerts(self) -> list[dict[str, Any]]:
        """GET /api/v1/alerts: every pending and firing alert of its rules."""
        return list(self._api("alerts")["alerts"])

    def query(self, promql: str) -> list[dict[str, Any]]:
        """An instant query: the result vector (each with metric and value)."""
        return list(self._api("query", query=promql)["result"])

    def targets(self) -> list[dict[str, Any]]:
        """The active scrape targets, with their health and last error."""
        return list(self._api("targets")["activeTargets"])


@contextmanager
def serving_prometheus(root: Path, config_text: str) -> Iterator[Prometheus]:
    """A Prometheus on a free port running ``config_text`` for the ``with`` block; stopped by its PID on
    leaving (its data and log stay in ``root`` for reading after a failure)."""
    root.mkdir(parents=True, exist_ok=True)
    prometheus = Prometheus(ensure_prometheus(), root, config_text)
    try:
        prometheus.start()
        yield prometheus
    finally:
        prometheus.stop()


@contextmanager
def running_prometheus(root: Path, target: str, rules: str, *, alertmanager: str) -> Iterator[Prometheus]:
    """A Prometheus on a free port for the ``with`` block, scraping ``target`` (host:port), evaluating
    ``rules`` and sending its alerts to ``alertmanager`` (host:port); stopped by its PID on leaving."""
    root.mkdir(parents=True, exist_ok=True)
    rules_file = root / "rules.yml"
    rules_file.write_text(rules)
    with serving_prometheus(root, CONFIG.format(rules=rules_file, alertmanager=alertmanager, target=target)) as prom:
        yield prom
