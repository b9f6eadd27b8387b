"""What every response and every state-changing request of the dashboard must satisfy. Pure: headers in,
decisions out.

Starlette ships no CSRF protection, and the libraries that add it (starlette-csrf,
fastapi-csrf-protect) implement the double-submit cookie, which needs JavaScript to copy the cookie
into a header and trusts any cookie a sibling subdomain can plant. relops' sessions live on the
server, so it uses the synchronizer-token pattern instead (OWASP's first recommendation): each
form carries a token derived from the session id with HMAC, compared in constant time; and, as a
second, independent layer, the browser's own word on where a request came from (Fetch Metadata's
Sec-Fetch-Site, else Origin) must say "this same origin".
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

#: Methods that change nothing: neither CSRF nor origin checks apply.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: On every response. Scripts only from the app's own files (the charts: vendored uPlot and the
#: pages' scripts; the dashboard's fetches its budget trends from the app itself), never inline (a
#: chart page's numbers travel in a JSON data block, which is never run); styles from the app's own
#: stylesheets; no one may frame the pages (clickjacking of ack and resolve).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
#: On everything but static assets: ops data and session pages are never cached, not even by the browser.
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def csrf_token(session_id: str) -> str:
    """The form token of a session: a cross-site page cannot compute it without the session id,
    which lives in an HttpOnly cookie."""
    return hmac.new(session_id.encode(), b"relops-csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_id: str, offered: str | None) -> bool:
    return offered is not None and hmac.compare_digest(csrf_token(session_id), offered)


def same_origin(headers: Mapping[str, str], own_origin: str) -> bool:
    """Whether the browser says the request comes from this very origin. Fetch Metadata first
    (every current browser sends it); else the Origin header; a request with neither, or with
    ``Origin: null`` (a sandboxed frame, a privacy redirect), is not taken as same-origin."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site == "same-origin"
    origin = headers.get("origin")
    return origin is not None and origin != "null" and origin.rstrip("/").lower() == own_origin.lower()
