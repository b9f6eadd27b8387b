"""logfmt-style log lines (``event=ingest.rejected flow=checkout batch_id=...``) for grep and jq-less ops."""

from __future__ import annotations

import logging
from typing import Any

_MAX_VALUE_CHARS = 300


def _format_value(value: Any) -> str:
    text = str(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[:_MAX_VALUE_CHARS] + "…"
    if text == "" or any(c in text for c in ' "=\n\r\t\\'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
        return f'"{escaped}"'
    return text


def kv(**fields: Any) -> str:
    """Render fields as ``key=value`` pairs, quoting values that contain spaces or quotes."""
    return " ".join(f"{key}={_format_value(value)}" for key, value in fields.items() if value is not None)


def log_event(logger: logging.Logger, level: int, event: str, **fields: Any) -> None:
    """Log one structured event; cheap when the level is disabled."""
    if logger.isEnabledFor(level):
        logger.log(level, "%s", kv(event=event, **fields))
