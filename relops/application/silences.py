"""Adding and expiring silences: read, checked, stored, audited. One implementation for the CLI and the API.

A silence as asked for (the API's JSON, a dashboard form, the CLI's options) is read by
``read_silence_request``; ``add_silence`` checks it against the rules of a silence and stores it.
Every refusal is an InputRejected naming the API's field: the CLI shows it under its own option."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, RowMapping

from relops.application.audit import Actor
from relops.config import RelopsConfig
from relops.errors import InputRejected
from relops.matchers import Matcher, matcher_from_dict, parse_matcher
from relops.silencing.silences import (
    Silence,
    check_matcher_count,
    check_new_silence,
    check_room_for_silence,
    silence_key,
)
from relops.store.silences import (
    as_silence,
    expire_silence,
    insert_silence,
    unfinished_silences_locked,
    unresolved_incidents,
)
from relops.timeutil import parse_duration, parse_utc


@dataclass(frozen=True)
class SilenceRequest:
    """A silence as its author asked for it, read but not yet checked (add_silence checks it)."""

    matchers: list[Matcher]
    match_all: bool
    starts_at: datetime
    ends_at: datetime
    reason: str


def _time_field(value: object, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_utc(str(value))
    except ValueError as exc:
        raise InputRejected(field, f"not an ISO-8601 time with its offset ({exc})") from None


def silence_end(starts_at: datetime, ends_at: datetime | None, duration: object) -> datetime:
    """When a silence starting at ``starts_at`` ends: at ``ends_at`` or after ``duration`` (90m, 2h,
    1d), exactly one of which its author gives."""
    if (ends_at is None) == (duration is None):
        raise InputRejected("ends_at", "give exactly one of ends_at (ISO-8601) or duration (90m, 2h, 1d)")
    if ends_at is not None:
        return ends_at
    try:
        return starts_at + parse_duration(str(duration))
    except ValueError as exc:
        raise InputRejected("duration", str(exc)) from None


def read_silence_request(
    config: RelopsConfig,
    now: datetime,
    *,
    matchers: object,
    match_all: bool = False,
    starts_at: object = None,
    ends_at: object = None,
    duration: object = None,
    reason: object = "",
) -> SilenceRequest:
    """A silence from what its author gave: matchers as a list of texts (flow=checkout) or of
    {"name", "op", "value"}; times as ISO-8601 with an offset (the start defaults to ``now``); a
    duration as 90m, 2h, 1d. InputRejected names the field at fault."""
    raw = matchers or []
    if not isinstance(raw, list):
        raise InputRejected("matchers", 'must be a list like ["flow=checkout"] or [{"name", "op", "value"}]')
    # Counted before parsing: a long list costs nothing to refuse.
    check_matcher_count(len(raw), config.silences.max_matchers)
    parsed = [parse_matcher(m) if isinstance(m, str) else matcher_from_dict(m) for m in raw]
    start = _time_field(starts_at, "starts_at") or now
    end = silence_end(start, _time_field(ends_at, "ends_at"), duration)
    return SilenceRequest(parsed, match_all, start, end, reason if isinstance(reason, str) else "")


@dataclass(frozen=True)
class Added:
    silence_id: int
    #: The unresolved incidents it matches right now.
    matches_now: list[RowMapping]


def add_silence(
    engine: Engine,
    config: RelopsConfig,
    actor: Actor,
    *,
    matchers: list[Matcher],
    match_all: bool,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    now: datetime,
) -> Added:
    """Check the silence (InputRejected naming the field otherwise), store it, audit it."""
    check_new_silence(
        matchers,
        match_all=match_all,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        now=now,
        max_duration=timedelta(seconds=config.silences.max_duration_s),
        known_labels=config.label_names(),
        max_matchers=config.silences.max_matchers,
    )
    with engine.begin() as conn:
        check_room_for_silence(unfinished_silences_locked(conn, now), config.silences.max_silences)
        silence_id = insert_silence(
            conn,
            matchers=[m.as_dict() for m in matchers],
            match_all=match_all,
            starts_at=starts_at,
            ends_at=ends_at,
            reason=reason.strip(),
            created_by=actor.name,
            created_via=actor.via,
        )
        probe = Silence(silence_key(silence_id), tuple(matchers), starts_at, ends_at, reason, match_all)
        matching = [row for row in unresolved_incidents(conn) if probe.matches(row["labels"])]
        actor.record(
            conn,
            "silence.add",
            f"silence {silence_id}",
            matchers=probe.describe(),
            starts_at=starts_at.isoformat(),
            ends_at=ends_at.isoformat(),
            reason=reason.strip(),
            matching_now=len(matching),
        )
    return Added(silence_id, matching)


def add_requested_silence(
    engine: Engine, config: RelopsConfig, actor: Actor, request: SilenceRequest, now: datetime
) -> Added:
    """``request`` checked, stored and audited (add_silence)."""
    return add_silence(
        engine,
        config,
        actor,
        matchers=request.matchers,
        match_all=request.match_all,
        starts_at=request.starts_at,
        ends_at=request.ends_at,
        reason=request.reason,
        now=now,
    )


def expire(engine: Engine, actor: Actor, silence_id: int, now: datetime) -> RowMapping | None:
    """End a silence now; None when it does not exist or is over already. The alert router sees it
    within a second; the next check (relops.check_silences) tells the channels and lets what it
    muted page again at its next firing."""
    with engine.begin() as conn:
        row = expire_silence(conn, silence_id, now, actor.name)
        if row is not None:
            actor.record(conn, "silence.expire", f"silence {silence_id}", muted=row["muted"])
    return row


def silence_view(row: RowMapping, now: datetime) -> dict[str, Any]:
    """A stored silence for people: its state and what it matches, as the CLI and the API show it."""
    ends_at = row["expired_at"] if row["expired_at"] else row["ends_at"]
    if row["expired_at"] or row["ends_at"] <= now:
        state = "expired" if row["expired_at"] else "ended"
    else:
        state = "active" if row["starts_at"] <= now else "pending"
    return {
        "id": row["id"],
        "state": state,
        "matchers": row["matchers"],
        "match_all": row["match_all"],
        "describe": as_silence(row).describe(),
        "starts_at": row["starts_at"].isoformat(),
        "ends_at": ends_at.isoformat(),
        "reason": row["reason"],
        "created_by": row["created_by"],
        "created_via": row["created_via"],
        "created_at": row["created_at"].isoformat(),
        "expired_by": row["expired_by"],
        "muted": row["muted"],
    }
