"""Validation of flow outcome batches (``relops.record_flow_outcomes``). Pure: no I/O.

A bad item is rejected with the field and the reason; the valid items of the same batch still land.

Two paths, one verdict. A whole batch of well-formed items (nearly every batch) is checked a type
at a time: msgspec converts the items to ``known_count_item`` (CountItem, its flow one of the
config's) in C, then each distinct minute is checked once. Any fault sends the batch item by item through
``parse_item``, which names the field of every fault; a property test holds both paths to the same
answers. The intake decodes a request straight into ``CountItem`` with the same checks.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Mapping, Sequence
from datetime import datetime, timedelta
from operator import attrgetter
from typing import Annotated, Any, Literal

import msgspec
from relops_client.names import MAX_ITEMS_PER_BATCH

from relops.errors import InputRejected, Rejection, excerpt
from relops.timeutil import parse_utc

MAX_BATCH_ID_CHARS = 200
#: One minute of one flow above this is a producer bug, not traffic.
MAX_COUNT_PER_MINUTE = 1_000_000_000
MAX_FUTURE_SKEW = timedelta(minutes=5)
ITEM_FIELDS = ("flow", "minute", "good", "bad")


class OutcomeCount(msgspec.Struct, frozen=True, gc=False):
    """One valid item: a flow's good and bad outcomes in one minute (no references: gc=False)."""

    flow: str
    minute: datetime
    good: int
    bad: int


Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT_PER_MINUTE)]


class CountItem(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """One item as sent, well formed; whether its flow and minute are acceptable is checked after.
    Holds only strings and integers, so the garbage collector need not track it (gc=False)."""

    flow: str
    minute: str
    good: Count
    bad: Count


_KNOWN_ITEM_TYPES: dict[int, tuple[Collection[str], type[CountItem] | None]] = {}
FLOW = attrgetter("flow")
_MINUTE = attrgetter("minute")


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
    return _minute_of(item.get("minute"), now, oldest)


def _minute_of(raw: Any, now: datetime, oldest: datetime) -> datetime:
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
    refused_flows: Mapping[str, str] | None = None,
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
    if refused_flows and flow in refused_flows:
        raise InputRejected("flow", refused_flows[flow])
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


def known_count_item(known_flows: Collection[str]) -> type[CountItem] | None:
    """CountItem whose flow must also be one of ``known_flows``, checked by msgspec as it decodes (a
    Literal, one hash lookup in C); None when there are no flows. Built once per collection."""
    cached = _KNOWN_ITEM_TYPES.get(id(known_flows))
    if cached is not None and cached[0] is known_flows:
        return cached[1]
    item_type: type[CountItem] | None = None
    if known_flows:
        item_type = msgspec.defstruct(
            "KnownCountItem",
            [("flow", Literal[tuple(known_flows)])],  # type: ignore[valid-type]
            bases=(CountItem,),
            frozen=True,
            forbid_unknown_fields=True,
            gc=False,
        )
    if len(_KNOWN_ITEM_TYPES) > 8:
        _KNOWN_ITEM_TYPES.clear()
    _KNOWN_ITEM_TYPES[id(known_flows)] = (known_flows, item_type)  # the collection is kept so its id stays its own
    return item_type


def whole_batch_minutes(items: Sequence[CountItem], now: datetime, oldest: datetime) -> dict[str, datetime] | None:
    """The minute of each distinct minute string when every minute of a batch of well-formed items
    of known flows is valid; None when any is not, and parse_counts must say which."""
    minutes: dict[str, datetime] = {}
    for raw in set(map(_MINUTE, items)):
        try:
            minutes[raw] = _minute_of(raw, now, oldest)
        except InputRejected:
            return None
    return minutes


def _whole_batch(
    counts: list[Any], known_flows: Collection[str], now: datetime, oldest: datetime
) -> list[OutcomeCount] | None:
    item_type = known_count_item(known_flows)
    if item_type is None:
        return None
    try:
        items = msgspec.convert(counts, list[item_type])  # type: ignore[valid-type]
    except msgspec.ValidationError:
        return None
    minutes = whole_batch_minutes(items, now, oldest)
    if minutes is None:
        return None
    return [OutcomeCount(item.flow, minutes[item.minute], item.good, item.bad) for item in items]


def parse_counts(
    counts: Any,
    *,
    known_flows: Collection[str],
    now: datetime,
    oldest: datetime,
    refused_flows: Mapping[str, str] | None = None,
) -> tuple[list[OutcomeCount], list[Rejection]]:
    """Split a batch's items into valid counts and rejections (field + reason). ``refused_flows``:
    flows relops knows but takes no pushed counts for, each with why."""
    if not isinstance(counts, list):
        raise InputRejected("counts", f"must be a list, got {type(counts).__name__}")
    if len(counts) > MAX_ITEMS_PER_BATCH:
        raise InputRejected("counts", f"has {len(counts)} items, more than {MAX_ITEMS_PER_BATCH}")
    whole = _whole_batch(counts, known_flows, now, oldest)
    if whole is not None:
        return whole, []
    valid: list[OutcomeCount] = []
    rejected: list[Rejection] = []
    minutes: dict[str, datetime | InputRejected] = {}
    for index, item in enumerate(counts):
        try:
            valid.append(parse_item(item, known_flows, now, oldest, minutes, refused_flows))
        except InputRejected as exc:
            rejected.append(Rejection(index, exc.field, exc.reason, excerpt(item)))
    return valid, rejected
