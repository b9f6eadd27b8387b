"""A local PagerDuty Events API v2 (``POST /v2/enqueue``) for the tests: a real HTTP server on
127.0.0.1 that checks every event against PagerDuty's documented schema and answers as PagerDuty does.

The checks follow https://developer.pagerduty.com/docs/events-api-v2/trigger-events/ ("Parameters")
and https://developer.pagerduty.com/docs/events-api-v2-overview ("Response Codes & Retry Logic",
"API Limits"): ``routing_key`` and ``event_action`` (trigger, acknowledge, resolve) required,
``dedup_key`` at most 255 characters (required on acknowledge and resolve, which name an alert);
on a trigger ``payload.summary`` (at most 1,024 characters), ``payload.source`` and
``payload.severity`` (critical, error, warning, info) required, ``custom_details`` an object,
``links`` objects with an ``href``; the whole event at most 512 KB; a JSON body. A valid event is
answered 202 ``{"status": "success", "message": "Event processed", "dedup_key": ...}``; an invalid
one 400 ``{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}``.
Scripted answers (429, 500, a hang) come first, for the failure tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
MAX_DEDUP_KEY_CHARS = 255
MAX_SUMMARY_CHARS = 1024
MAX_EVENT_BYTES = 512 * 1024
PATH = "/v2/enqueue"

#: The receiver as docs/guides/pagerduty.md shows it (tests/unit/test_pagerduty_docs.py holds the
#: page to it); the integration tests run it.
RECEIVER_CONFIG = """
[receivers.pagerduty]
type = "pagerduty"
routing_key_env = "PAGERDUTY_ROUTING_KEY"
events_url_env = "PAGERDUTY_EVENTS_URL"
severity_map = { warning = "warning", critical = "critical" }

[route]
receivers = ["pagerduty"]
"""


def event_problems(event: Any, body_bytes: int = 0) -> list[str]:
    """Why PagerDuty would refuse ``event`` (its "errors"), or nothing."""
    if not isinstance(event, dict):
        return ["Event object is not a JSON object"]
    problems = []
    if body_bytes > MAX_EVENT_BYTES:
        problems.append(f"Event is {body_bytes} bytes, over the 512 KB limit")
    if not isinstance(event.get("routing_key"), str) or not event["routing_key"]:
        problems.append("'routing_key' is missing or blank")
    action = event.get("event_action")
    if action not in ACTIONS:
        problems.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    key = event.get("dedup_key")
    if key is not None and (not isinstance(key, str) or len(key) > MAX_DEDUP_KEY_CHARS):
        problems.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve") and not key:
        problems.append("'dedup_key' is required to acknowledge or resolve")
    if action == "trigger":
        problems += _payload_problems(event.get("payload"))
        for link in event.get("links", []):
            if not isinstance(link, dict) or not isinstance(link.get("href"), str):
                problems.append("each of 'links' needs an 'href'")
    return problems


def _payload_problems(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing"]
    problems = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary:
        problems.append("'payload.summary' is missing")
    elif len(summary) > MAX_SUMMARY_CHARS:
        problems.append("'payload.summary' is longer than 1024 characters")
    if not isinstance(payload.get("source"), str) or not payload["source"]:
        problems.append("'payload.source' is missing")
    if payload.get("severity") not in SEVERITIES:
        problems.append("'payload.severity' is invalid (must be one of critical, error, warning, info)")
    details = payload.get("custom_details")
    if details is not None and not isinstance(details, dict):
        problems.append("'payload.custom_details' must be an object")
    for name in ("component", "group", "class", "timestamp"):
        if name in payload and not isinstance(payload[name], str):
            problems.append(f"'payload.{name}' must be a string")
    return problems


@dataclass(frozen=True)
class Scripted:
    """An answer given instead of checking: ``status`` with ``body``, or no answer at all (``hang``)."""

    status: int = 500
    body: dict[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = ()
    hang: bool = False


@dataclass(frozen=True)
class Received:
    event: Any
    content_type: str
    #: What the server answered (None: it hung).
    status: int | None


class PagerDutyEventsApi:
    """``with PagerDutyEventsApi() as api: ...``; ``api.url`` is the enqueue URL to configure."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._script: list[Scripted] = []
        self.received: list[Received] = []
        self._closing = threading.Event()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"
            timeout = 10.0

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                api._answer(self, raw)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{PATH}"

    def __enter__(self) -> PagerDutyEventsApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def script(self, *answers: Scripted) -> None:
        with self._lock:
            self._script = list(answers)

    def clear(self) -> None:
        with self._lock:
            self._script = []
            self.received = []

    def events(self, action: str | None = None, status: int | None = 202) -> list[dict[str, Any]]:
        """The events received (and answered ``status``), optionally of one action."""
        with self._lock:
            found = [r.event for r in self.received if status is None or r.status == status]
        return [e for e in found if isinstance(e, dict) and (action is None or e.get("event_action") == action)]

    def _answer(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        try:
            event: Any = json.loads(raw)
        except ValueError:
            event = None
        content_type = handler.headers.get("Content-Type", "")
        with self._lock:
            scripted = self._script.pop(0) if self._script else None
        if scripted is not None and scripted.hang:
            with self._lock:
                self.received.append(Received(event, content_type, None))
            self._closing.wait(60)
            return
        if scripted is not None:
            status, body, headers = scripted.status, scripted.body or {"status": "error"}, scripted.headers
        else:
            problems = event_problems(event, len(raw))
            if not content_type.startswith("application/json"):
                problems.append("Content-Type must be application/json")
            if problems:
                status, headers = 400, ()
                body = {"status": "invalid event", "message": "Event object is invalid", "errors": problems}
            else:
                status, headers = 202, ()
                body = {"status": "success", "message": "Event processed", "dedup_key": event.get("dedup_key")}
        with self._lock:
            self.received.append(Received(event, content_type, status))
        data = json.dumps(body).encode()
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def __iter__(self) -> Iterator[Received]:
        with self._lock:
            return iter(list(self.received))
