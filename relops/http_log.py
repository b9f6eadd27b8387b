"""What the HTTP libraries under relops' channels log, with no URL path or query left in it.

urllib3 logs every request at DEBUG (``"POST /services/T…/B…/TOKEN HTTP/1.1" 200 2``), its retries
at WARNING with the path, and httpx (when installed) every request at INFO with the whole URL. A
receiver's path or query is often its credential (a Slack or Teams webhook, a secret prefix in front
of an Alertmanager, an ntfy topic), so a worker run at DEBUG would write them all to its log.

Why a filter and not a level: clamping those loggers to INFO would hide what debugging a delivery
needs (which host, a new or a dropped connection, the status, the bytes) and still let a WARNING
that quotes a path through. The filter keeps every record and rewrites its text first: each URL
keeps its scheme, host and port and loses its user info, path and query; each request target and
path becomes ``/***``; relops' known secrets (relops.redaction.known_secrets) are masked too. Which
segments of a receiver's path are secret relops cannot know in general, so none is shown.

The filter sits on each of those libraries' loggers (so no handler, whoever adds it later, sees a
record unmasked) and, in a worker, on the root logger's handlers too, for a library's logger created
after it was installed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from relops.redaction import MASK

#: The HTTP libraries relops and its dependencies (requests, Apprise) send through.
HTTP_LIBRARIES = ("urllib3", "requests", "httpx", "httpcore")
#: In one pass, left to right, so a URL's own "//" and path are never taken for a bare path:
#: a URL (scheme://[userinfo@]host[:port], then its path, query or fragment); a request target or a
#: bare path ("/" after a space, quote, bracket, colon or "="); a query with no path before it.
_TARGETS = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?:[^\s/?#@\"'<>]*@)?(?P<host>[^\s/?#\"'<>]*)(?P<rest>[/?#][^\s\"'<>]*)?"
    r"|(?<=[\s\"'(\[:=,])[/?][^\s\"'()\[\],]*"
)
_MASKED_PATH = f"/{MASK}"


def _masked(match: re.Match[str]) -> str:
    if match["scheme"] is None:
        return _MASKED_PATH
    return f"{match['scheme']}{match['host']}{_MASKED_PATH if match['rest'] else ''}"


def mask_http_text(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every URL cut to scheme://host[:port], every path and query replaced by "/***",
    and then every one of ``secrets`` (longest first) left in the rest of it by "***"."""
    text = _TARGETS.sub(_masked, text)
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def from_http_library(name: str) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in HTTP_LIBRARIES)


class MaskHttpUrls(logging.Filter):
    """Rewrites the text of every record an HTTP library logs (message, traceback, stack) through
    mask_http_text; other records pass untouched. Never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if not from_http_library(record.name) or getattr(record, "_relops_masked", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: its arguments are not shown at all
            message = str(record.msg)
        record.msg, record.args = mask_http_text(message, self.secrets), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_http_text(record.exc_text, self.secrets)
        if record.stack_info:
            record.stack_info = mask_http_text(record.stack_info, self.secrets)
        record._relops_masked = True
        return True


def http_library_loggers() -> list[logging.Logger]:
    """Every logger of an HTTP library that exists now (imported modules made theirs), and each
    library's top logger."""
    names = {name for name in logging.root.manager.loggerDict if from_http_library(name)} | set(HTTP_LIBRARIES)
    return [logging.getLogger(name) for name in sorted(names)]


def _replace_filter(filterer: logging.Filterer, new: MaskHttpUrls) -> None:
    for old in [f for f in filterer.filters if isinstance(f, MaskHttpUrls)]:
        filterer.removeFilter(old)
    filterer.addFilter(new)


def mask_http_library_logs(secrets: Iterable[str] = (), handlers: Iterable[logging.Handler] = ()) -> MaskHttpUrls:
    """Put MaskHttpUrls on every HTTP library's logger and on ``handlers`` (idempotent: a second call
    replaces the first's filter)."""
    mask = MaskHttpUrls(secrets)
    for logger in http_library_loggers():
        _replace_filter(logger, mask)
    for handler in handlers:
        _replace_filter(handler, mask)
    return mask
