"""Cron-run events (``relops.cron_run``): validation. Pure: no I/O; the clock is an argument.

Field names are part of the contract (README, "Cron-run events").
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from relops.errors import InputRejected
from relops.timeutil import parse_utc

STATUSES = ("started", "success", "failure")
FIELDS = ("name", "run_id", "status", "at", "duration_ms", "result", "error")
MAX_NAME_CHARS = 200
MAX_RUN_ID_CHARS = 200
MAX_ERROR_CHARS = 4000
MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_DURATION_MS = 31 * 86400 * 1000


@dataclass(frozen=True, slots=True)
class CronRun:
    name: str
    run_id: str
    status: str
    at: datetime
    duration_ms: int | None
    result: Any
    error: str | None

    @property
    def finished(self) -> bool:
        return self.status != "started"


def _text(payload: Mapping[str, Any], field: str, limit: int) -> str:
    value = payload.get(field)
    if not isinstance(value, str) or not value.strip():
        raise InputRejected(field, "must be a non-empty string")
    if len(value) > limit:
        raise InputRejected(field, f"is {len(value)} characters, more than {limit}")
    if not value.isprintable():
        raise InputRejected(field, "contains control characters")
    return value


def _encodable(value: str) -> bool:
    """False for a string holding a lone surrogate: JSON can carry one (\\ud800), UTF-8 cannot."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def parse_cron_run(payload: Mapping[str, Any], *, now: datetime, result_max_bytes: int) -> CronRun:
    """Check a cron-run event field by field; raises InputRejected naming the field."""
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise InputRejected(str(unknown[0])[:60], "is not a field of a cron-run event")
    name = _text(payload, "name", MAX_NAME_CHARS)
    run_id = _text(payload, "run_id", MAX_RUN_ID_CHARS)
    status = payload.get("status")
    if status not in STATUSES:
        raise InputRejected("status", f"must be one of {', '.join(STATUSES)}, got {str(status)[:40]!r}")
    raw_at = payload.get("at")
    if not isinstance(raw_at, str):
        raise InputRejected("at", "must be an ISO-8601 UTC timestamp string")
    try:
        at = parse_utc(raw_at)
    except ValueError as exc:
        raise InputRejected("at", f"not an ISO-8601 UTC timestamp ({exc})") from None
    if at > now + MAX_FUTURE_SKEW:
        raise InputRejected("at", f"is more than {MAX_FUTURE_SKEW} in the future")
    duration = payload.get("duration_ms")
    if duration is not None:
        if not isinstance(duration, int) or isinstance(duration, bool):
            raise InputRejected("duration_ms", f"must be an integer or null, got {type(duration).__name__}")
        if not 0 <= duration <= MAX_DURATION_MS:
            raise InputRejected("duration_ms", f"must be between 0 and {MAX_DURATION_MS}, got {duration}")
    result = payload.get("result")
    if result is not None:
        try:
            size = len(json.dumps(result))
        except (TypeError, ValueError, RecursionError):
            raise InputRejected("result", "is not JSON-serialisable") from None
        if size > result_max_bytes:
            raise InputRejected("result", f"is {size} bytes of JSON, more than {result_max_bytes}")
        if "\\u0000" in json.dumps(result):
            raise InputRejected("result", "contains a NUL character")
        if not _encodable(json.dumps(result, ensure_ascii=False)):
            raise InputRejected("result", "contains a lone surrogate, which is not text (not valid UTF-8)")
    error = payload.get("error")
    if error is not None:
        if not isinstance(error, str):
            raise InputRejected("error", "must be a string or null")
        if "\x00" in error:
            raise InputRejected("error", "contains a NUL character")
        if not _encodable(error):
            raise InputRejected("error", "contains a lone surrogate, which is not text (not valid UTF-8)")
        error = error[-MAX_ERROR_CHARS:]
    return CronRun(name=name, run_id=run_id, status=status, at=at, duration_ms=duration, result=result, error=error)
