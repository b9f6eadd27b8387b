"""relops.check_silences' logic (beat, every CHECK_INTERVAL_S): what silences starting and ending owe.

- A new silence: the receivers that take silence notices hear who muted what, why, until when,
  and which open incidents it matches.
- A silence that ended (expired early, or reached its end) and a maintenance window that closed:
  the incidents they muted are muted no more, and their dedup windows are forgotten, so an
  incident still firing pages at its next evaluation instead of waiting out a window claimed
  before the silence. The receivers hear that it ended and what it muted; one that muted nothing
  in its whole life is called out, since it may have been a mistake or a leftover.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from relops_client.logs import log_event
from sqlalchemy import Connection, RowMapping

from relops.application.deps import Deps
from relops.application.group_windows import destination_of, schedule_flush
from relops.channels.registry import silence_notices
from relops.silencing.maintenance import active_maintenance
from relops.state.dedup import forget_dedup
from relops.store.notifications import enqueue
from relops.store.silences import (
    as_silence,
    mark_noticed,
    release_incidents,
    silenced_incident_keys,
    unnoticed_ends,
    unnoticed_starts,
    unresolved_incidents,
)

logger = logging.getLogger(__name__)

#: Beat sends relops.check_silences this often: notices and unmuting lag a silence's end by at most this.
CHECK_INTERVAL_S = 10


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def start_notice(row: RowMapping, matching_now: int, now: datetime) -> dict[str, Any]:
    silence = as_silence(row)
    title = f"Silence #{row['id']} by {row['created_by']}: {silence.describe()} until {_when(silence.ends_at)}"
    return {
        "fingerprint": f"silence:{row['id']}",
        "kind": "notice",
        "severity": "info",
        "source": "relops",
        "title": title,
        "summary": (
            f"{row['created_by']} muted alerts matching {silence.describe()} from {_when(silence.starts_at)} "
            f"to {_when(silence.ends_at)}: {row['reason']}. It matches {matching_now} open incident(s) now; "
            "they are recorded but page nobody until it ends."
        ),
        "details": {
            "silence": f"#{row['id']}",
            "event": "created",
            "matchers": silence.describe(),
            "reason": row["reason"],
            "created_by": row["created_by"],
            "starts_at": silence.starts_at.isoformat(),
            "ends_at": silence.ends_at.isoformat(),
            "matching_now": matching_now,
        },
        "runbook_url": "",
        "occurred_at": now.isoformat(),
    }


def end_notice(row: RowMapping, now: datetime) -> dict[str, Any]:
    silence = as_silence(row)
    how = f"expired early by {row['expired_by']}" if row["expired_at"] else "reached its end"
    muted = int(row["muted"])
    outcome = (
        f"It muted {muted} alert event(s)."
        if muted
        else "It muted nothing in its whole life: was it needed, or does it match what was meant?"
    )
    return {
        "fingerprint": f"silence:{row['id']}",
        "kind": "notice",
        "severity": "info",
        "source": "relops",
        "title": f"Silence #{row['id']} {how}: {'muted nothing' if not muted else f'muted {muted} alert(s)'}",
        "summary": f"Silence #{row['id']} ({silence.describe()}, by {row['created_by']}: {row['reason']}) {how}. "
        f"{outcome} Incidents still firing page again at their next evaluation.",
        "details": {
            "silence": f"#{row['id']}",
            "event": "ended",
            "matchers": silence.describe(),
            "reason": row["reason"],
            "created_by": row["created_by"],
            "ended": how,
            "muted": muted,
        },
        "runbook_url": "",
        "occurred_at": now.isoformat(),
    }


def _notify(conn: Connection, deps: Deps, payload: dict[str, Any]) -> list[str]:
    """Owe the notice to every receiver that takes silence notices."""
    receivers = [c for c in deps.receivers.values() if silence_notices(c)]
    for channel in receivers:
        enqueue(
            conn,
            incident_id=None,
            channel=channel.name,
            receiver=channel.receiver,
            kind="notice",
            severity="info",
            payload=payload,
        )
    return [c.receiver for c in receivers]


def check_silences(deps: Deps) -> dict[str, int]:
    now = deps.now()
    owed: set[str] = set()
    released: list[dict[str, Any]] = []
    started = ended = 0
    with deps.engine.begin() as conn:
        for row in unnoticed_starts(conn):
            if mark_noticed(conn, row["id"], "start", now):
                silence = as_silence(row)
                matching = sum(1 for incident in unresolved_incidents(conn) if silence.matches(incident["labels"]))
                owed.update(_notify(conn, deps, start_notice(row, matching, now)))
                started += 1
        for row in unnoticed_ends(conn, now):
            if mark_noticed(conn, row["id"], "end", now):
                released += release_incidents(conn, [as_silence(row).key])
                owed.update(_notify(conn, deps, end_notice(row, now)))
                ended += 1
        open_windows = {s.key for s in active_maintenance(deps.config.maintenance, now)}
        closed = [k for k in silenced_incident_keys(conn) if k.startswith("maintenance:") and k not in open_windows]
        released += release_incidents(conn, closed)
    for incident in released:
        forget_dedup(deps.redis, list(deps.receivers), incident["dedup_key"])
    for name in sorted(owed):
        to = destination_of(deps.receivers[name])
        schedule_flush(deps.redis, deps.publish, to, deps.routes.group_wait_s, deps.routes.group_interval_s)
    if started or ended or released:
        deps.silences.forget()
        log_event(
            logger,
            logging.WARNING,
            "silences.checked",
            started=started,
            ended=ended,
            unmuted=len(released),
            windows_closed=",".join(closed) or "-",
        )
    return {"started": started, "ended": ended, "unmuted": len(released)}
