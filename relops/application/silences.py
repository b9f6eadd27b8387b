"""Adding and expiring silences: checked, stored, audited. One implementation for the CLI and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, RowMapping

from relops.application.audit import Actor
from relops.config import RelopsConfig
from relops.matchers import Matcher
from relops.silencing.silences import Silence, check_new_silence, check_room_for_silence, silence_key
from relops.store.silences import (
    as_silence,
    expire_silence,
    insert_silence,
    unfinished_silences_locked,
    unresolved_incidents,
)


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
