"""Apprise's logger, kept out of relops' logs and read only to learn why a send failed.

Apprise logs as it works, and what it logs is not safe to keep: the URL it loaded (a webhook's
secret path, a token in the query), an ntfy topic (whoever knows it can read the alerts), the
headers it sends (``Authorization: Bearer …`` at DEBUG) and the receiver's answers. So the
``apprise`` logger never propagates to the root logger (where Celery's and relops' handlers are)
and has one handler, ours, which keeps a record only while ``captured()`` is open on the same
thread, in memory, for relops.channels.apprise_outcome to read the HTTP status from; every other
record is dropped. A logger with a handler of its own is also never handed to logging's
last-resort handler (stderr).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from relops.channels.apprise_outcome import LogLine

#: Apprise's root logger (apprise.logger.LOGGER_NAME); every plugin logs below it.
APPRISE_LOGGER = "apprise"
#: Records kept per send at most: a plugin looping over many targets cannot grow memory unbounded.
MAX_LINES = 200


class _Capture(logging.Handler):
    """Keeps the records of the thread that opened captured(); drops every other record."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        # Every captured() open on this thread (one inside another) sees the record.
        open_now: list[list[LogLine]] = getattr(self.local, "open", [])
        if not open_now:
            return
        try:
            line = LogLine(record.levelno, record.getMessage())
        except Exception:  # a malformed record of Apprise's must not fail a send
            return
        for lines in open_now:
            if len(lines) < MAX_LINES:
                lines.append(line)


_capture = _Capture()
_lock = threading.Lock()


def silence_apprise() -> None:
    """Cut Apprise's logger off from every other handler (idempotent; done again before each use
    in case a logging configuration ran since)."""
    logger = logging.getLogger(APPRISE_LOGGER)
    with _lock:
        logger.propagate = False
        for handler in list(logger.handlers):
            if handler is not _capture:
                logger.removeHandler(handler)
        if _capture not in logger.handlers:
            logger.addHandler(_capture)
        # DEBUG: the connection failure's cause ("Read timed out") is logged at DEBUG only.
        logger.setLevel(logging.DEBUG)


@contextmanager
def captured() -> Iterator[list[LogLine]]:
    """The records Apprise logs on this thread while the block runs."""
    silence_apprise()
    lines: list[LogLine] = []
    if not hasattr(_capture.local, "open"):
        _capture.local.open = []
    _capture.local.open.append(lines)
    try:
        yield lines
    finally:
        # By identity: two captures that saw the same records are equal lists.
        _capture.local.open[:] = [other for other in _capture.local.open if other is not lines]
