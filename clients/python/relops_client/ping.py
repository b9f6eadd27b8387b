"""Reporting to relops' HTTP intake with the standard library alone: cron pings, and outcome
batches for OutcomeRecorder(sender=...) when a service would rather not reach the broker.

    from relops_client import ping
    ping("https://relops.example", KEY, "nightly-export", "start")
    ...
    ping("https://relops.example", KEY, "nightly-export")            # success
    ping("https://relops.example", KEY, "nightly-export", "fail", body=traceback_text)

A ping never raises into the job: it returns False (and logs) when the intake could not be
reached or refused it, after ``retries`` attempts for the faults a retry can fix (network, 429,
5xx), waiting as ``Retry-After`` says.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any, Literal

from relops_client.logs import log_event

logger = logging.getLogger(__name__)
PingKind = Literal["start", "success", "fail"]
_SUFFIX = {"start": "/start", "success": "", "fail": "/fail"}
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_WAIT_S = 30.0


class IntakeRefused(Exception):
    """The intake answered with an error that a retry cannot fix (4xx other than 429)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"the intake refused the report: HTTP {status}: {body[:300]}")
        self.status = status


def _post(url: str, data: bytes | None, headers: dict[str, str], timeout_s: float, retries: int) -> dict[str, Any]:
    """The intake's JSON answer; raises IntakeRefused, or the last network error after the retries."""
    attempt = 0
    while True:
        attempt += 1
        request = urllib.request.Request(url, data=data if data is not None else b"", headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            if exc.code not in _RETRY_STATUSES or attempt > retries:
                raise IntakeRefused(exc.code, body) from None
            wait = exc.headers.get("Retry-After", "")
            time.sleep(min(_MAX_WAIT_S, float(wait)) if wait.isdigit() else min(_MAX_WAIT_S, 2 ** (attempt - 1)))
        except (urllib.error.URLError, TimeoutError, ConnectionError):
            if attempt > retries:
                raise
            time.sleep(min(_MAX_WAIT_S, 2 ** (attempt - 1)))


def ping(
    intake_url: str,
    key: str,
    job: str,
    kind: PingKind = "success",
    *,
    run_id: str | None = None,
    duration_ms: int | None = None,
    body: str | None = None,
    timeout_s: float = 10.0,
    retries: int = 5,
) -> bool:
    """Report a cron run's start, success or failure; True once the intake accepted it. ``body`` is
    the result (success) or the error text (fail)."""
    query = {k: str(v) for k, v in (("run_id", run_id), ("duration_ms", duration_ms)) if v is not None}
    path = f"/api/v1/cron/{urllib.parse.quote(job, safe='')}{_SUFFIX[kind]}"
    url = intake_url.rstrip("/") + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/plain; charset=utf-8"}
    try:
        _post(url, None if body is None else body.encode(), headers, timeout_s, retries)
    except Exception as exc:  # a lost ping is logged, never raised into the job
        log_event(logger, logging.ERROR, "cron.ping_failed", job=job, kind=kind, error=f"{type(exc).__name__}: {exc}")
        return False
    return True


def http_sender(intake_url: str, key: str, *, timeout_s: float = 3.0) -> Callable[[str, list[dict[str, Any]]], None]:
    """An OutcomeRecorder sender posting each batch to the intake (it keeps its batch id until the
    intake accepted it, so a retry after a lost answer is counted once)."""
    url = intake_url.rstrip("/") + "/api/v1/outcomes"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def send(batch_id: str, counts: list[dict[str, Any]]) -> None:
        _post(url, json.dumps({"batch_id": batch_id, "counts": counts}).encode(), headers, timeout_s, retries=0)

    return send
