"""One JSON POST to an alert receiver, with every failure mapped to a DeliveryError.

Shared by the HTTP channels so they agree on what is worth retrying:

- connect/read timeouts and connection errors: retryable;
- 5xx and 408: retryable (Retry-After honoured when the receiver sends one);
- 429: retryable after Retry-After (seconds or an HTTP date; 1 s when missing or garbled, at most 5 min);
- 3xx (redirects are not followed: a POST must not turn into a GET elsewhere) and other 4xx: not retryable.

Errors carry the status and at most 200 characters of the response body, never the URL (a webhook
URL is a credential) nor any header: ``describe`` names the receiver instead, and every string in
``secrets`` is masked out of whatever text a failure produced.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import MaxRetryError

from relops.channels.base import DeliveryError
from relops.redaction import scrub

USER_AGENT = "relops-alerts/0.1"
#: Characters of the receiver's response body quoted in an error.
MAX_REASON_BODY_CHARS = 200
#: Bytes of the response body read at most (the rest is never downloaded).
_READ_BODY_BYTES = 2048
DEFAULT_RETRY_AFTER_S = 1.0
MAX_RETRY_AFTER_S = 300.0
_RETRYABLE_STATUSES = frozenset({408, 429})
#: "<urllib3.connection.HTTPConnection object at 0x7f...>: " in front of urllib3 messages.
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>:?\s*")
_SECONDS = re.compile(r"^\d+(\.\d+)?$")
#: What a credential in a header may hold: printable ASCII, no spaces.
_PRINTABLE_ASCII = re.compile(r"^[\x21-\x7e]+$")


def url_problem(url: str, variable: str) -> str | None:
    """Why ``url`` (from environment variable ``variable``) cannot be posted to, or None."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return f"{variable} is not a valid URL"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return f"{variable} must be an http:// or https:// URL with a host"
    return None


def header_secret_problem(variable: str, value: str | None) -> str | None:
    """Why the secret in environment variable ``variable`` cannot go in an HTTP header, or None."""
    if value is None:
        return f"{variable} is not set"
    if not _PRINTABLE_ASCII.match(value):
        return f"{variable} contains spaces, control or non-ASCII characters"
    return None


def parse_retry_after(
    value: str | None,
    *,
    now: datetime | None = None,
    default: float = DEFAULT_RETRY_AFTER_S,
    cap: float = MAX_RETRY_AFTER_S,
) -> float:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date, clamped to
    [0, cap]; ``default`` when the header is missing or unreadable."""
    if value is None or not value.strip():
        return default
    text = value.strip()
    if _SECONDS.match(text):
        return min(float(text), cap)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return default
    if moment is None:
        return default
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delay = (moment - (now or datetime.now(UTC))).total_seconds()
    return min(max(delay, 0.0), cap)


def _cause(exc: requests.RequestException) -> str:
    """The useful part of a requests exception: urllib3 wraps the real cause (connection refused,
    read timed out) in a MaxRetryError whose message quotes the request path."""
    inner: Any = exc.args[0] if exc.args else exc
    if isinstance(inner, MaxRetryError) and inner.reason is not None:
        inner = inner.reason
    return _OBJECT_REPR.sub("", str(inner)) or type(exc).__name__


def delivery_error_for_status(
    status: int,
    body: str,
    *,
    describe: str,
    retry_after: str | None = None,
    retryable_statuses: Collection[int] = (),
    default_retry_after_s: float | None = DEFAULT_RETRY_AFTER_S,
) -> DeliveryError:
    """The DeliveryError for a non-2xx response (``body``: already scrubbed and cut). A 429 without a
    readable Retry-After waits ``default_retry_after_s`` (None: the caller's backoff decides)."""
    reason = f"{describe}: HTTP {status}" + (f": {body}" if body else "")
    if status == 429:
        given = parse_retry_after(retry_after, default=-1.0)
        wait_s = given if given >= 0 else default_retry_after_s
        return DeliveryError(reason, retryable=True, retry_after_s=wait_s, status=status)
    if status >= 500 or status in _RETRYABLE_STATUSES or status in retryable_statuses:
        retry_after_s = parse_retry_after(retry_after) if retry_after else None
        return DeliveryError(reason, retryable=True, retry_after_s=retry_after_s, status=status)
    if 300 <= status < 400:
        reason = f"{describe}: HTTP {status}: unexpected redirect (not followed)"
    return DeliveryError(reason, retryable=False, status=status)


def _read_snippet(response: requests.Response) -> bytes:
    try:
        return next(response.iter_content(_READ_BODY_BYTES), b"")[:_READ_BODY_BYTES]
    except (requests.RequestException, OSError):
        return b"(response body unreadable)"


def post_json(
    url: str,
    payload: Any,
    *,
    timeout: tuple[float, float],
    describe: str,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
    retry_when: Callable[[int, str], bool] | None = None,
    default_retry_after_s: float | None = DEFAULT_RETRY_AFTER_S,
) -> None:
    """POST ``payload`` as JSON to ``url``; return on 2xx, else raise DeliveryError.

        ``timeout`` is (connect, read) in seconds. ``describe`` (e.g. the channel's destination())
        stands for ``url`` in error messages; ``secrets`` are masked out of every error: pass every
    secret the process knows (relops.redaction.known_secrets), not only the channel's, because a
    receiver's error body may echo anything.
        ``retry_when(status, body)`` says whether a 4xx answer means "try again" at this receiver (the
    body is the response's first 2 KiB, never stored or logged by this function).
    ``default_retry_after_s``: how long a 429 without a readable Retry-After waits (None: as long as
    the delivery's backoff says, for receivers that ask for minutes rather than a second).
    """
    try:
        body = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise DeliveryError(f"{describe}: message is not JSON-serialisable: {exc}", retryable=False) from None
    all_headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **(headers or {})}
    masked = list(secrets)

    def clean(text: str) -> str:
        return scrub(text.replace(url, describe), masked, limit=MAX_REASON_BODY_CHARS)

    error: DeliveryError | None = None
    # The DeliveryError is raised outside the except blocks, so it carries no __context__: the
    # requests exception (whose message and attributes hold the URL) is not chained into tracebacks.
    try:
        with requests.post(
            url, data=body, headers=all_headers, timeout=timeout, allow_redirects=False, stream=True
        ) as response:
            status = response.status_code
            if 200 <= status < 300:
                return
            retry_after = response.headers.get("Retry-After")
            snippet = _read_snippet(response).decode("utf-8", errors="replace")
    except requests.Timeout as exc:
        kind = "connect" if isinstance(exc, requests.ConnectTimeout) else "read"
        cause = clean(_cause(exc))
        error = DeliveryError(f"{describe}: {kind} timeout: {cause}", retryable=True)
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        cause = clean(_cause(exc))
        error = DeliveryError(f"{describe}: connection failed: {cause}", retryable=True)
    except (requests.RequestException, ValueError) as exc:
        # An invalid URL or header (InvalidURL, InvalidHeader, a non-Latin-1 header value): a
        # configuration error. Its message quotes the offending value (possibly escaped, so masking
        # could miss it): only its type is shown.
        error = DeliveryError(f"{describe}: request not sent: invalid request ({type(exc).__name__})", retryable=False)
    if error is not None:
        raise error
    retry = retry_when is not None and 400 <= status < 500 and retry_when(status, snippet)
    raise delivery_error_for_status(
        status,
        clean(snippet),
        describe=describe,
        retry_after=retry_after,
        retryable_statuses=(status,) if retry else (),
        default_retry_after_s=default_retry_after_s,
    )
