"""What a failed Apprise send means: retry or dead letter. Pure: no I/O.

An Apprise plugin's ``send()`` answers only True or False; what went wrong it says in its log, in
the same words across its HTTP plugins (read in apprise/plugins/*.py, 2.x):

- ``"Failed to send <service> notification: <phrase>, error=<status>."`` at WARNING for a non-2xx
  answer (ntfy puts its own error code there, the HTTP status times 100 plus a number: 40035, 42901);
- ``"A Connection error occurred sending <service> ..."`` at WARNING, then ``"Socket Exception:
  <requests' message>"`` at DEBUG, for a refused connection, a timeout or a TLS failure.

Those records (relops.channels.apprise_log captures them, never logs them) become one DeliveryError
with relops' HTTP rules (relops.channels.http.delivery_error_for_status): 4xx but 408 and 429 is a
dead letter, 408, 429, 5xx and connection failures are retried. Apprise's log does not carry a
Retry-After header, so a 429 waits relops' default second and then the backoff. The reason is
written here from the status alone: the log's text quotes topics, hosts and response bodies,
which may be secrets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus

from relops.channels.base import DeliveryError
from relops.channels.http import delivery_error_for_status

_STATUS = re.compile(r"\berror=(\d{3,5})\b")
_CONNECTION = ("connection error", "socket exception")
_TIMEOUT = ("timed out", "timeout")


@dataclass(frozen=True, slots=True)
class LogLine:
    """One record Apprise logged while sending: its level and its formatted message."""

    level: int
    message: str


def http_status(code: int) -> int:
    """The HTTP status of a plugin's ``error=`` code: ntfy's five-digit codes carry it in their
    first three digits (42901: 429)."""
    return code // 100 if code >= 10_000 else code


def statuses(lines: Sequence[LogLine]) -> list[int]:
    """Every HTTP status a send's failure records name, in order."""
    found = []
    for line in lines:
        if line.level >= logging.WARNING:
            found += [http_status(int(code)) for code in _STATUS.findall(line.message)]
    return found


def _worth_retrying(status: int) -> bool:
    return status >= 500 or status in (408, 429)


def failure(describe: str, lines: Sequence[LogLine]) -> DeliveryError:
    """The DeliveryError of a send whose plugin answered False, from what it logged meanwhile.

    Of several failures (a URL with several targets), one worth retrying makes the whole retried."""
    found = statuses(lines)
    if found:
        status = next((s for s in found if _worth_retrying(s)), found[0])
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        return delivery_error_for_status(status, phrase, describe=describe)
    text = " ".join(line.message.lower() for line in lines)
    if any(word in text for word in _CONNECTION):
        kind = "timed out" if any(word in text for word in _TIMEOUT) else "connection failed"
        return DeliveryError(f"{describe}: {kind}", retryable=True)
    # A plugin that gave up before any request (no target left, an attachment it could not read)
    # or one whose words differ: retried, so a page is not dropped on a guess; max_attempts bounds it.
    return DeliveryError(f"{describe}: not delivered (Apprise gave no HTTP status)", retryable=True)
