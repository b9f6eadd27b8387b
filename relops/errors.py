"""Every relops error derives from RelopsError; a rejected input is described by a Rejection."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from relops_client.errors import DegradedError

__all__ = ["DegradedError"]  # raised by guard(); defined by the client, which services use

#: Characters of a rejected input kept for logs and ops_rejected_inputs.
EXCERPT_CHARS = 300


class RelopsError(Exception):
    """Root of relops' own errors."""


class SettingsError(RelopsError):
    """An environment variable is missing or malformed."""


class ConfigError(RelopsError):
    """The config file is missing or invalid; the message names the file, the item and the field."""


class InputRejected(RelopsError):
    """An incoming payload or item failed validation."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class MessageRefused(RelopsError):
    """A task message refused before it is decoded (relops.compression): what it is and why, never
    its content."""


class BrokerError(RelopsError):
    """The broker cannot serve relops as configured (unreachable at start, an unknown scheme, a queue
    declared otherwise); the message says what to do and never quotes a password."""


class ServiceError(RelopsError):
    """Redis or PostgreSQL could not be checked, started or stopped; the message says what to do."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """One rejected item of a payload (``item_index``), or the whole payload (``item_index`` None):
    the field at fault, why, and a short excerpt of what was sent."""

    item_index: int | None
    field: str
    reason: str
    excerpt: str


def excerpt(value: Any) -> str:
    """A short, printable rendering of any input for logs and the rejection table."""
    try:
        text = json.dumps(value, default=repr, ensure_ascii=True)
    except (TypeError, ValueError, RecursionError):
        try:
            text = repr(value)
        except RecursionError:  # hostile nesting: json and repr both give up
            text = f"<{type(value).__name__} nested too deeply to show>"
    return text if len(text) <= EXCERPT_CHARS else text[:EXCERPT_CHARS] + "..."


def listed_items(payload: Mapping[str, Any], args: Sequence[Any], field: str, limit: int, what: str) -> list[Any]:
    """The list under ``field`` of a message that carries many items (``what``: "cron-run events",
    "outcome batches"), or InputRejected naming what is wrong with the message as a whole."""
    if args:
        raise InputRejected("args", f"{what} are sent as kwargs, not positional arguments")
    unknown = sorted(set(payload) - {field})
    if unknown:
        raise InputRejected(str(unknown[0])[:60], f"is not a field of a message of {what} (only {field})")
    items = payload.get(field)
    if not isinstance(items, list):
        raise InputRejected(field, f"must be a list of {what}, got {type(items).__name__}")
    if len(items) > limit:
        raise InputRejected(field, f"has {len(items)} items, more than {limit}")
    return items
