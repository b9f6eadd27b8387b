"""Whether a request came from Slack: its signature checked against the Slack app's signing secret.
Pure: no I/O, and the clock is an argument.

Slack signs every request it sends an app ("Verifying requests from Slack",
https://api.slack.com/authentication/verifying-requests-from-slack): ``X-Slack-Signature`` is
``v0=`` and the hex HMAC-SHA256, keyed with the signing secret, of ``v0:{timestamp}:{raw body}``,
where the timestamp is ``X-Slack-Request-Timestamp`` (epoch seconds). A request whose timestamp is
more than five minutes from now either way is refused, whatever its signature: a captured request
cannot be replayed later (a replay within the window is the caller's to make harmless). The
signatures are compared in constant time, so a forger learns nothing from how long a refusal took.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

VERSION: Final = "v0"
#: Slack's replay window: a request signed longer ago (or later) than this is refused.
MAX_SKEW_S: Final = 300
SIGNATURE_HEADER: Final = "X-Slack-Signature"
TIMESTAMP_HEADER: Final = "X-Slack-Request-Timestamp"
#: A timestamp longer than this is not epoch seconds of this era (and not worth parsing).
_MAX_TIMESTAMP_DIGITS = 12


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` Slack sends with ``body`` at ``timestamp``."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signature_problem(
    secret: str, timestamp: str | None, sent_signature: str | None, body: bytes, now_s: float
) -> str | None:
    """Why the request is not Slack's (a sentence naming the header at fault), or None when its
    signature is right and it was signed within MAX_SKEW_S of ``now_s``. Says nothing of what the
    right signature would have been."""
    if not timestamp:
        return f"{TIMESTAMP_HEADER} is missing"
    if not sent_signature:
        return f"{SIGNATURE_HEADER} is missing"
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        return f"{TIMESTAMP_HEADER} is not epoch seconds"
    skew = now_s - int(timestamp)
    if skew > MAX_SKEW_S:
        return f"{TIMESTAMP_HEADER} is {int(skew)} s old, more than the {MAX_SKEW_S} s a request may be replayed in"
    if skew < -MAX_SKEW_S:
        return f"{TIMESTAMP_HEADER} is {int(-skew)} s in the future, more than the {MAX_SKEW_S} s allowed"
    # Compared as bytes: compare_digest refuses non-ASCII text, and a forger may send any header.
    expected = signature(secret, timestamp, body).encode()
    if not hmac.compare_digest(expected, sent_signature.encode("utf-8", "replace")):
        return f"{SIGNATURE_HEADER} does not match the request (signed with another secret, or the body was changed)"
    return None
