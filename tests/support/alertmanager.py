"""A real Prometheus Alertmanager for tests: Debian's ``prometheus-alertmanager`` (installed with apt-get
when missing, as the browser tests install Chromium), started on a free loopback port with a config
written here, its one receiver a webhook to a local recording server (relops.localdev.sink.HttpSink),
and stopped by its PID.

    with HttpSink() as hook, running_alertmanager(tmp_path, hook.url + "/am-hook") as am:
        am.post_silence(["flow=checkout"])
        am.alerts()                     # GET /api/v2/alerts
        am.restart()                    # stop by PID, start again on the same port and storage

Clustering is off (``--cluster.listen-address=``): one process, no gossip port to collide with
another run's. Silences and the notification log live in ``storage``, which a restart keeps, as a
deployment's volume does; alerts live in memory only, which is what relops' re-sending restores.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests

from relops.localdev.sink import SinkRequest
from relops.matchers import parse_matcher
from relops.timeutil import utcnow
from tests.debian_packages import INSTALL_TIMEOUT_S, ensure_commands
from tests.support.server_process import ServerProcess
from tests.web_support import free_port

PACKAGES = ("prometheus-alertmanager",)
HOST = "127.0.0.1"
#: The route the tests run (and docs/guides/prometheus.md shows): one group per relops incident,
#: sent a second after its first alert, changes a second after that, repeated hourly.
ROUTE_CONFIG = """\
route:
  receiver: relops-test
  group_by: ['alertname', 'relops_fingerprint']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: relops-test
    webhook_configs:
      - url: {webhook_url}
        send_resolved: true
"""


def ensure_alertmanager(timeout_s: float = INSTALL_TIMEOUT_S) -> str:
    """The path of Debian's Alertmanager; ``apt-get install``s it first when missing."""
    (path,) = ensure_commands((("prometheus-alertmanager", "alertmanager"),), PACKAGES, timeout_s)
    return path


@dataclass
class Alertmanager(ServerProcess):
    """One Alertmanager child process. ``url`` is its base URL, with ``route_prefix`` (the path an
    Alertmanager behind a proxy is reached under: here it stands for a secret in the URL)."""

    binary: str
    root: Path
    webhook_url: str
    route_prefix: str = ""
    #: The whole config file, when not ROUTE_CONFIG to ``webhook_url`` (the intake's tests write their own).
    config_text: str | None = None
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}{self.route_prefix}"

    @property
    def target(self) -> str:
        """host:port, as a Prometheus config names its Alertmanagers."""
        return f"{HOST}:{self.port}"

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    @property
    def log_path(self) -> Path:
        return self.root / "alertmanager.log"

    def write_config(self) -> Path:
        path = self.root / "alertmanager.yml"
        text = self.config_text if self.config_text is not None else ROUTE_CONFIG.format(webhook_url=self.webhook_url)
        path.write_text(text)
        return path

    def start(self) -> None:
        """Start on ``port`` and wait until it answers /-/ready."""
        self.storage.mkdir(parents=True, exist_ok=True)
        config = self.write_config()
        external = f"http://{HOST}:{self.port}{self.route_prefix}"
        self.starts += 1
        self.launch(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.path={self.storage}",
                f"--web.listen-address={HOST}:{self.port}",
                f"--web.external-url={external}",
                "--cluster.listen-address=",
                "--log.level=debug",
            ],
            f"Alertmanager on port {self.port}",
        )

    def restart(self) -> None:
        """Stop, then start again on the same port with the same storage."""
        self.stop()
        self.start()

    # API v2

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        response = requests.request(method, f"{self.url}/api/v2{path}", timeout=5, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def alerts(self, **filters: str) -> list[dict[str, Any]]:
        """GET /api/v2/alerts (active, silenced and inhibited alone; resolved ones are not listed)."""
        return self.api("GET", "/alerts", params={"filter": [f'{k}="{v}"' for k, v in filters.items()]})

    def post_silence(self, matchers: Sequence[str], duration: timedelta = timedelta(hours=1)) -> str:
        """A silence through POST /api/v2/silences; its id. ``matchers`` as relops writes them."""
        now = utcnow()
        body = {
            "matchers": [_matcher(text) for text in matchers],
            "startsAt": now.isoformat(),
            "endsAt": (now + duration).isoformat(),
            "createdBy": "relops tests",
            "comment": "muted in Alertmanager",
        }
        return str(self.api("POST", "/silences", json=body)["silenceID"])

    def expire_silence(self, silence_id: str) -> None:
        self.api("DELETE", f"/silence/{silence_id}")


def _matcher(text: str) -> dict[str, Any]:
    parsed = parse_matcher(text)
    return {
        "name": parsed.name,
        "value": parsed.value,
        "isRegex": parsed.op in ("=~", "!~"),
        "isEqual": parsed.op in ("=", "=~"),
    }


def notifications(requests_seen: Sequence[SinkRequest]) -> list[dict[str, Any]]:
    """The webhook payloads (version 4) Alertmanager sent, oldest first."""
    found = []
    for request in requests_seen:
        body = request.json if request.json is not None else json.loads(request.body or b"null")
        if isinstance(body, dict) and body.get("version") == "4":
            found.append(body)
    return found


@contextmanager
def running_alertmanager(
    root: Path, webhook_url: str, route_prefix: str = "", *, config_text: str | None = None
) -> Iterator[Alertmanager]:
    """An Alertmanager on a free port for the ``with`` block; stopped by its PID on leaving.
    ``config_text``: a whole config file of the test's own instead of ROUTE_CONFIG."""
    root.mkdir(parents=True, exist_ok=True)
    manager = Alertmanager(ensure_alertmanager(), root, webhook_url, route_prefix, config_text)
    try:
        manager.start()
        yield manager
    finally:
        manager.stop()
