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

The key goes only where ``intake_url`` says: a redirect is refused, never followed (urllib would
resend the ``Authorization`` header to whatever host the redirect names, as a GET that another
server may well answer with a success), and the URL must be https, or plain http to this machine
unless ``allow_http=True``.
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

from relops_client.intake_url import checked_intake_url
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


class RedirectRefused(IntakeRefused):
    """The intake URL answered with a redirect, which the client never follows."""

    def __init__(self, status: int, location: str) -> None:
        target = urllib.parse.urlsplit(location)
        # Only the redirect's origin: its path or query may carry anything.
        where = f"{target.scheme}://{target.hostname}" if target.hostname else "a relative location"
        super().__init__(status, f"a redirect to {where}, not followed (the key would go along): use the final URL")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hands every 3xx back as an HTTPError instead of following it."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


#: urlopen's handlers (proxies from the environment, https with certificate checks) minus redirects.
_OPENER = urllib.request.build_opener(_NoRedirects)


def _post(url: str, data: bytes | None, headers: dict[str, str], timeout_s: float, retries: int) -> dict[str, Any]:
    """The intake's JSON answer; raises IntakeRefused, or the last network error after the retries."""
    attempt = 0
    while True:
        attempt += 1
        request = urllib.request.Request(url, data=data if data is not None else b"", headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=timeout_s) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            if 300 <= exc.code < 400:
                raise RedirectRefused(exc.code, exc.headers.get("Location", "")) from None
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
    allow_http: bool = False,
) -> bool:
    """Report a cron run's start, success or failure; True once the intake accepted it. ``body`` is
    the result (success) or the error text (fail). ``allow_http``: send the key over plain http to
    a host other than this machine (a private network only)."""
    query = {k: str(v) for k, v in (("run_id", run_id), ("duration_ms", duration_ms)) if v is not None}
    path = f"/api/v1/cron/{urllib.parse.quote(job, safe='')}{_SUFFIX[kind]}"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "text/plain; charset=utf-8"}
    try:
        base = checked_intake_url(intake_url, allow_http=allow_http)
        url = base + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        _post(url, None if body is None else body.encode(), headers, timeout_s, retries)
    except Exception as exc:  # a lost ping is logged, never raised into the job
        log_event(logger, logging.ERROR, "cron.ping_failed", job=job, kind=kind, error=f"{type(exc).__name__}: {exc}")
        return False
    return True


def http_sender(
    intake_url: str, key: str, *, timeout_s: float = 3.0, allow_http: bool = False
) -> Callable[[str, list[dict[str, Any]]], None]:
    """An OutcomeRecorder sender posting each batch to the intake (it keeps its batch id until the
    intake accepted it, so a retry after a lost answer is counted once). Raises UnsafeIntakeURL for
    a URL the key may not go to (see ``ping``); a redirect fails the send with RedirectRefused."""
    url = checked_intake_url(intake_url, allow_http=allow_http) + "/api/v1/outcomes"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def send(batch_id: str, counts: list[dict[str, Any]]) -> None:
        _post(url, json.dumps({"batch_id": batch_id, "counts": counts}).encode(), headers, timeout_s, retries=0)

    return send
