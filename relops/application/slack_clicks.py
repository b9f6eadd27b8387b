"""A click on an alert message's button in Slack, acted on as the relops user the Slack user is linked
to: Acknowledge and Resolve through the same compare-and-set as the dashboard (incidents.py),
Silence 1 h as a silence of the incident's alert (silences.py), each audited ``via = 'slack'``.

What comes back is the response for the click's ``response_url``: the message with the outcome
written in (also when someone else acknowledged or resolved the incident first: the message then
shows that), or a reply only the clicking user sees when nothing changed (an unlinked, revoked or
viewer user; an incident that fired again since the message). A replay of a click that was acted on already returns
None: nothing changes and nothing is said twice.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from redis import Redis
from sqlalchemy import Engine, RowMapping

from relops.application.audit import Actor
from relops.application.incidents import Followers, change_incident, unchanged_reason
from relops.application.silences import add_silence
from relops.channels.facts import format_time
from relops.channels.slack_actions import KIND_OF_STATUS, Interaction, done_line, ephemeral, updated_message
from relops.channels.slack_format import escape
from relops.config import RelopsConfig
from relops.errors import InputRejected
from relops.matchers import Matcher, matcher
from relops.state.slack_clicks import claim_click, release_click
from relops.store.audit import last_actor
from relops.store.incidents import incident_row
from relops.store.users import SlackUser, user_by_slack_id

SILENCE_FOR = timedelta(hours=1)
#: Labels a silence of "this alert" leaves out: the same alert at another severity is still it.
_NOT_IDENTITY = frozenset({"severity"})


@dataclass(frozen=True)
class ClickDeps:
    engine: Engine
    redis: Redis
    config: RelopsConfig
    #: Every receiver name: a resolution forgets the incident's dedup windows at each.
    receivers: Collection[str]
    #: The receivers that follow an incident's life (PagerDuty): a click's change is owed to them.
    followers: Followers = field(default_factory=Followers)


def _refusal(click: Interaction, user: SlackUser | None) -> str | None:
    if user is None:
        return (
            f"Your Slack user ({click.slack_user_id}) is not linked to a relops user, so nothing changed. "
            f"A relops admin links it with: relops users set-slack NAME {click.slack_user_id}"
        )
    if user.revoked:
        return f"The relops user {user.name} your Slack user is linked to is revoked, so nothing changed."
    if user.role != "admin":
        return f"The relops user {user.name} is a {user.role}: only admins change incidents, so nothing changed."
    return None


def act_on_click(deps: ClickDeps, click: Interaction, now: datetime) -> dict[str, Any] | None:
    """Act on ``click``; the response for its response_url, or None for a replay."""
    with deps.engine.connect() as conn:
        user = user_by_slack_id(conn, click.slack_user_id)
    refusal = _refusal(click, user)
    if refusal is not None or user is None:
        return ephemeral(refusal or "")
    if not claim_click(deps.redis, click.replay_key):
        return None
    actor = Actor(name=user.name, via="slack", source=f"slack {click.team_id} {click.slack_user_id}")
    try:
        return _act(deps, click, actor, now)
    except BaseException:
        # Nothing was done (each change commits whole or not at all): the click may come again.
        release_click(deps.redis, click.replay_key)
        raise


def _act(deps: ClickDeps, click: Interaction, actor: Actor, now: datetime) -> dict[str, Any]:
    if click.kind == "silence":
        problem = _silence(deps, click, actor, now)
        if problem is not None:
            return ephemeral(problem)
    else:
        row = change_incident(
            deps.engine,
            deps.redis,
            deps.receivers,
            click.incident_id,
            click.kind,
            now,
            actor,
            opened_at=click.opened_at,
            followers=deps.followers,
        )
        if row is None:
            # Someone got there first (the dashboard, another click), it resolved on its own, or it
            # has fired again since the message.
            return _lost_race(deps, click)
    line = escape(done_line(click.kind, actor.name, format_time(now.isoformat())))
    if click.kind == "silence":
        line += escape(f" (until {format_time((now + SILENCE_FOR).isoformat())})")
    updated = updated_message(click, line)
    return updated if updated is not None else ephemeral(line)


def _lost_race(deps: ClickDeps, click: Interaction) -> dict[str, Any]:
    """The response to an acknowledgement or resolution that changed nothing. When the message's
    episode was acknowledged or resolved elsewhere first (the dashboard, a colleague's click, its
    alert resolving), the message is updated to say so, with the buttons still useful, as if that
    change had been clicked here: left as it was, it would keep offering what is done. Otherwise (no
    such incident, or it has fired again since the message) only the user who clicked is told why."""
    with deps.engine.connect() as conn:
        incident = incident_row(conn, click.incident_id)
        same_episode = incident is not None and click.opened_at in (None, incident["opened_at"])
        state = KIND_OF_STATUS.get(incident["status"]) if incident is not None and same_episode else None
        if incident is None or state is None:
            return ephemeral(_unchanged(click, incident))
        done_at = incident["acknowledged_at" if state == "ack" else "resolved_at"]
        # The actor of the change in this episode (the dashboard's user, a colleague); nobody when
        # the incident resolved on its own.
        who = last_actor(
            conn, action=f"incident.{state}", target=f"incident {click.incident_id}", since=incident["opened_at"]
        )
    line = escape(done_line(state, who, format_time(done_at.isoformat()) if done_at else None))
    updated = updated_message(click, line, state=state)
    return updated if updated is not None else ephemeral(f"Nothing changed: {line}")


def _unchanged(click: Interaction, incident: RowMapping | None) -> str:
    """Why an acknowledgement or resolution changed nothing, for the user who clicked."""
    if incident is not None and click.opened_at is not None and incident["opened_at"] != click.opened_at:
        opened = format_time(incident["opened_at"].isoformat())
        return (
            f"Nothing changed: incident {click.incident_id} has resolved and fired again since this message "
            f"(the current episode opened {opened}); use the newest message or the dashboard."
        )
    return f"Nothing changed: {unchanged_reason(click.incident_id, click.kind)}."


def silence_matchers(labels: dict[str, str], known: Collection[str]) -> list[Matcher]:
    """Equality matchers on the incident's labels that name its alert: every label the config knows
    but its severity."""
    return [
        matcher(name, "=", value)
        for name, value in sorted(labels.items())
        if name in known and name not in _NOT_IDENTITY and value
    ]


def _silence(deps: ClickDeps, click: Interaction, actor: Actor, now: datetime) -> str | None:
    """Silence the incident's alert for an hour; why not, or None once done."""
    with deps.engine.connect() as conn:
        incident = incident_row(conn, click.incident_id)
    if incident is None or incident["status"] == "resolved":
        return f"Nothing changed: incident {click.incident_id} does not exist or is resolved."
    matchers = silence_matchers(incident["labels"] or {}, deps.config.label_names())
    if not matchers:
        return f"Nothing changed: incident {click.incident_id} has no labels a silence could match."
    try:
        add_silence(
            deps.engine,
            deps.config,
            actor,
            matchers=matchers,
            match_all=False,
            starts_at=now,
            ends_at=now + SILENCE_FOR,
            reason=f"silenced from Slack for incident {click.incident_id} ({incident['fingerprint']})"[:900],
            now=now,
        )
    except InputRejected as refused:
        return f"Nothing changed: the silence was refused ({refused.field}: {refused.reason})."
    return None
