"""Where the client may send a report key. Pure: a URL in, the URL or a refusal out.

A key travels in the ``Authorization`` header of every request, so an intake URL must be https,
or plain http to this machine only (a local intake, a sidecar proxy) unless the caller says
otherwise: over plain http anyone on the path reads the key.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

#: Host names that always mean this machine (RFC 6761), besides loopback addresses.
LOOPBACK_NAMES = frozenset({"localhost"})


class UnsafeIntakeURL(ValueError):
    """The intake URL would expose the key: not http(s), no host, or plain http to another machine."""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def checked_intake_url(url: str, *, allow_http: bool = False) -> str:
    """``url`` without a trailing slash, once it is safe to send a key to; raises UnsafeIntakeURL.
    The refusal names the host only: a URL may carry credentials."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeIntakeURL(f"intake_url must be an https:// URL with a host (got scheme {scheme or 'none'!r})")
    if parts.username is not None or parts.password is not None:
        raise UnsafeIntakeURL("intake_url must not carry a user or password: the key is the credential")
    if scheme == "http" and not allow_http and not is_loopback(parts.hostname):
        raise UnsafeIntakeURL(
            f"intake_url is plain http:// to {parts.hostname}: the key would cross the network unencrypted; "
            "use https://, or pass allow_http=True if the path is private"
        )
    return url.rstrip("/")
