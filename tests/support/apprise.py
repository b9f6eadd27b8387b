"""Local stand-ins for services Apprise reaches, for the apprise receiver's tests: an ntfy server
and a receiver of Apprise's own JSON (``json://``). Each is a relops.localdev.sink.HttpSink on
127.0.0.1 whose ``check`` refuses what the vendor refuses, with the vendor's answer.

ntfy, as documented and as its server answers:

- https://docs.ntfy.sh/publish/#publish-as-json: a JSON object PUT/POSTed to the server's root URL
  (not the topic's), ``topic`` the only required field; ``message``, ``title`` strings,
  ``priority`` 1-5, ``tags`` a list of strings, ``markdown`` a boolean.
- https://docs.ntfy.sh/publish/#access-tokens: ``Authorization: Bearer tk_…`` on a protected topic.
- https://docs.ntfy.sh/publish/#limitations: a message of at most 4,096 bytes (the default
  ``message-size-limit``) before ntfy makes it an attachment.
- Topic names: 1-64 of ``[-_A-Za-z0-9]`` (ntfy's server.go, ``topicRegex``).
- Errors (ntfy's server/errors.go): JSON ``{"code": 40009, "http": 400, "error": "...", "link": "..."}``
  whose ``code`` is the HTTP status times 100 plus a number; 40101 unauthorized, 40009 topic
  invalid, 40017 not message JSON, 42901 too many requests, 50001 internal server error.
- Success: 200 with the published message as JSON (``id``, ``time``, ``event`` "message", ``topic``, …).

Apprise's JSON (https://github.com/caronc/apprise/wiki/Notify_Custom_JSON): a POST of
``{"version": "1.0", "title", "message", "attachments": [], "type"}`` with ``type`` one of info,
success, warning, failure, ``Content-Type: application/json``; any 2xx is success.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from relops.localdev.sink import SinkRequest, SinkResponse

#: The receiver config the apprise tests run, which docs/guides/apprise.md shows
#: (tests/unit/test_apprise_docs.py holds the guide to it).
RECEIVER_CONFIG = """\
[alerts.channels.apprise]
max_attempts = 6
connect_timeout_s = 1
read_timeout_s = 1

[receivers.phones]
type = "apprise"
url_env = "ONCALL_APPRISE_URLS"

[breakers.phones]
failure_threshold = 5
open_s = 1

[route]
receivers = ["phones"]
"""

NTFY_TOPIC = re.compile(r"^[-_A-Za-z0-9]{1,64}$")
NTFY_MESSAGE_LIMIT_BYTES = 4096
NTFY_LIMITS = "https://ntfy.sh/docs/publish/#limitations"
APPRISE_JSON_TYPES = frozenset({"info", "success", "warning", "failure"})
APPRISE_JSON_KEYS = frozenset({"version", "title", "message", "attachments", "type"})


def ntfy_error(code: int, error: str, link: str = "") -> SinkResponse:
    """ntfy's answer to a request it refuses (server/errors.go's errHTTP as JSON)."""
    body = {"code": code, "http": code // 100, "error": error, **({"link": link} if link else {})}
    return SinkResponse(
        status=code // 100, body=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


NTFY_TOO_MANY_REQUESTS = ntfy_error(42901, "limit reached: too many requests", NTFY_LIMITS)
NTFY_INTERNAL_ERROR = ntfy_error(50001, "internal server error")
NTFY_TOPIC_INVALID = ntfy_error(40009, "invalid request: topic invalid")
NTFY_PUBLISHED = SinkResponse(
    body=json.dumps({"id": "hwQ2YpKdmg", "time": 1700000000, "event": "message", "topic": "t"}).encode(),
    headers={"Content-Type": "application/json"},
)


def ntfy_problem(request: SinkRequest, token: str) -> str | None:
    """Why ntfy would refuse ``request`` to a topic that ``token`` may publish to, or None."""
    if request.method not in ("POST", "PUT") or request.path != "/":
        return "JSON is published to the root URL"
    if request.header("Authorization") != f"Bearer {token}":
        return "unauthorized"
    body: Any = request.json
    if not isinstance(body, dict):
        return "not message JSON"
    if not isinstance(body.get("topic"), str) or not NTFY_TOPIC.match(body["topic"]):
        return "topic invalid"
    for key in ("message", "title"):
        if key in body and not isinstance(body[key], str):
            return f"{key} not a string"
    if "priority" in body and body["priority"] not in (1, 2, 3, 4, 5):
        return "invalid priority"
    if "tags" in body and not (isinstance(body["tags"], list) and all(isinstance(t, str) for t in body["tags"])):
        return "tags not a list of strings"
    if "markdown" in body and not isinstance(body["markdown"], bool):
        return "markdown not a boolean"
    if len(body.get("message", "").encode()) > NTFY_MESSAGE_LIMIT_BYTES:
        return "message over ntfy's 4,096 bytes"
    return None


def ntfy_check(token: str) -> Callable[[SinkRequest], SinkResponse | None]:
    """HttpSink's ``check`` for an ntfy server whose topics ``token`` may publish to."""

    def check(request: SinkRequest) -> SinkResponse | None:
        problem = ntfy_problem(request, token)
        if problem is None:
            return None
        if problem == "unauthorized":
            return ntfy_error(40101, "unauthorized", "https://ntfy.sh/docs/publish/#authentication")
        if problem == "topic invalid":
            return NTFY_TOPIC_INVALID
        if problem == "JSON is published to the root URL":
            return ntfy_error(40401, "page not found")
        return ntfy_error(40017, f"invalid request: {problem}", "https://ntfy.sh/docs/publish/#publish-as-json")

    return check


def apprise_json_problem(request: SinkRequest) -> str | None:
    """Why ``request`` is not Apprise's documented JSON notification, or None."""
    if request.method != "POST":
        return "not a POST"
    if not (request.header("Content-Type") or "").startswith("application/json"):
        return "not application/json"
    body: Any = request.json
    if not isinstance(body, dict) or set(body) != APPRISE_JSON_KEYS:
        return "not the documented keys"
    if body["version"] != "1.0" or body["attachments"] != [] or body["type"] not in APPRISE_JSON_TYPES:
        return "version, attachments or type wrong"
    if not isinstance(body["title"], str) or not isinstance(body["message"], str) or not body["message"]:
        return "title or message not text"
    return None


def apprise_json_check(request: SinkRequest) -> SinkResponse | None:
    """HttpSink's ``check`` for a receiver of Apprise's JSON: a 400 for anything else."""
    problem = apprise_json_problem(request)
    return None if problem is None else SinkResponse(status=400, body=problem.encode())
