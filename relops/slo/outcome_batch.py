"""Validation of flow outcome batches (``relops.record_flow_outcomes``). Pure: no I/O.

A bad item is rejected with the field and the reason; the valid items of the same batch still land.
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from relops_client.names import MAX_ITEMS_PER_BATCH

from relops.errors import InputRejected, Rejection, excerpt
from relops.timeutil import parse_utc

MAX_BATCH_ID_CHARS = 200
#: One minute of one flow above this is a producer bug, not traffic.
MAX_COUNT_PER_MINUTE = 1_000_000_000
MAX_FUTURE_SKEW = timedelta(minutes=5)
ITEM_FIELDS = ("flow", "minute", "good", "bad")


@dataclass(frozen=True, slots=True)
class OutcomeCount:
    flow: str
    minute: datetime
    good: int
    bad: int


def validate_batch_id(batch_id: Any) -> str:
    if not isinstance(batch_id, str) or not batch_id.strip():
        raise InputRejected("batch_id", "must be a non-empty string")
    if len(batch_id) > MAX_BATCH_ID_CHARS:
        raise InputRejected("batch_id", f"longer than {MAX_BATCH_ID_CHARS} characters")
    if not batch_id.isprintable():
        raise InputRejected("batch_id", "contains control characters")
    return batch_id


def _count(item: Mapping[str, Any], field: str) -> int:
    value = item.get(field)
    if type(value) is int and 0 <= value <= MAX_COUNT_PER_MINUTE:  # the common case, checked cheaply
        return value
    # bool is an int in Python; True as a count is a producer bug.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputRejected(field, f"must be an integer, got {type(value).__name__}")
    if value < 0:
        raise InputRejected(field, f"must not be negative, got {value}")
    if value > MAX_COUNT_PER_MINUTE:
        raise InputRejected(field, f"exceeds {MAX_COUNT_PER_MINUTE} per minute")
    return value


def _minute(item: Mapping[str, Any], now: datetime, oldest: datetime) -> datetime:
    raw = item.get("minute")
    if not isinstance(raw, str):
        raise InputRejected("minute", "must be an ISO-8601 UTC string like 2026-11-27T10:24:00Z")
    try:
        minute = parse_utc(raw)
    except ValueError as exc:
        raise InputRejected("minute", f"not an ISO-8601 UTC timestamp ({exc})") from None
    if minute.second or minute.microsecond:
        raise InputRejected("minute", "must be a whole minute (seconds = 0)")
    if minute > now + MAX_FUTURE_SKEW:
        raise InputRejected("minute", f"is more than {MAX_FUTURE_SKEW} in the future")
    if minute < oldest:
        raise InputRejected("minute", "is older than the longest SLO period, so it can no longer count")
    return minute


def parse_item(
    item: Any,
    known_flows: Container[str],
    now: datetime,
    oldest: datetime,
    minutes: dict[str, datetime | InputRejected] | None = None,
) -> OutcomeCount:
    """One item checked; ``minutes`` caches the minute strings seen so far in the batch (a batch
    names few distinct minutes, and parsing each again was most of a batch's validation)."""
    if not isinstance(item, dict) and not isinstance(item, Mapping):
        raise InputRejected("item", f"must be an object with {', '.join(ITEM_FIELDS)}")
    missing = [f for f in ITEM_FIELDS if f not in item]
    if missing:
        raise InputRejected(missing[0], "is missing")
    flow = item["flow"]
    if not isinstance(flow, str):
        raise InputRejected("flow", "must be a string")
    if flow not in known_flows:
        raise InputRejected("flow", "is not a flow in the relops config")
    raw = item["minute"]
    if minutes is None or not isinstance(raw, str):
        minute = _minute(item, now, oldest)
    else:
        cached = minutes.get(raw)
        if cached is None:
            try:
                cached = _minute(item, now, oldest)
            except InputRejected as exc:
                cached = exc
            minutes[raw] = cached
        if isinstance(cached, InputRejected):
            raise InputRejected(cached.field, cached.reason)
        minute = cached
    return OutcomeCount(flow=flow, minute=minute, good=_count(item, "good"), bad=_count(item, "bad"))


def parse_counts(
    counts: Any, *, known_flows: Container[str], now: datetime, oldest: datetime
) -> tuple[list[OutcomeCount], list[Rejection]]:
    """Split a batch's items into valid counts and rejections (field + reason)."""
    if not isinstance(counts, list):
        raise InputRejected("counts", f"must be a list, got {type(counts).__name__}")
    if len(counts) > MAX_ITEMS_PER_BATCH:
        raise InputRejected("counts", f"has {len(counts)} items, more than {MAX_ITEMS_PER_BATCH}")
    valid: list[OutcomeCount] = []
    rejected: list[Rejection] = []
    minutes: dict[str, datetime | InputRejected] = {}
    for index, item in enumerate(counts):
        # The common item (a plain object of exactly the four fields, all well formed, its minute
        # already seen in this batch) is accepted inline; anything else takes parse_item, which
        # accepts the same items and names the field of any fault.
        if type(item) is dict and len(item) == 4:
            flow, good, bad, minute = item.get("flow"), item.get("good"), item.get("bad"), item.get("minute")
            seen = minutes.get(minute) if type(minute) is str else None
            if (
                type(seen) is datetime
                and type(flow) is str
                and type(good) is int
                and type(bad) is int
                and 0 <= good <= MAX_COUNT_PER_MINUTE
                and 0 <= bad <= MAX_COUNT_PER_MINUTE
                and flow in known_flows
            ):
                valid.append(OutcomeCount(flow, seen, good, bad))
                continue
        try:
            valid.append(parse_item(item, known_flows, now, oldest, minutes))
        except InputRejected as exc:
            rejected.append(Rejection(index, exc.field, exc.reason, excerpt(item)))
    return valid, rejected
