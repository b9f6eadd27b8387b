"""logfmt-style log lines (``event=ingest.rejected flow=checkout batch_id=...``) for grep and jq-less ops."""

from __future__ import annotations

import logging
from typing import Any

_MAX_VALUE_CHARS = 300
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _format_value(value: Any) -> str:
    text = str(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[:_MAX_VALUE_CHARS] + "…"
    if text and text.isprintable() and not any(c in text for c in ' "=\\'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    # A control character in a value (a hostile name) must not forge or split log lines.
    escaped = "".join(c if c.isprintable() else _ESCAPES.get(c, f"\\x{ord(c):02x}") for c in escaped)
    return f'"{escaped}"'


def kv(**fields: Any) -> str:
    """Render fields as ``key=value`` pairs, quoting values that contain spaces or quotes."""
    return " ".join(f"{key}={_format_value(value)}" for key, value in fields.items() if value is not None)


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log one structured event; cheap when the level is disabled."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s", kv(event=event, **fields))


class EventLog:
    """``log_event`` with the fields that name one piece of work bound once (a message's channel,
    receiver and key; an alert's fingerprint), so each step logs only what it adds."""

    __slots__ = ("_fields", "_logger")

    def __init__(self, logger: logging.Logger, **fields: Any) -> None:
        self._logger = logger
        self._fields = fields

    def __call__(self, level: int, event: str, **fields: Any) -> None:
        log_event(self._logger, level, event, **{**self._fields, **fields})

    def bind(self, **fields: Any) -> EventLog:
        """The same log with more fields bound."""
        return EventLog(self._logger, **{**self._fields, **fields})
