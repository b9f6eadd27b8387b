"""``POST /api/v1/slack/interactions``: the clicks on the buttons of relops' Slack alert messages.

A Slack app's "Interactivity" request URL points here. Every request is checked against the app's
signing secret (SLACK_SIGNING_SECRET: relops.access.slack_signature) before its body is read as
anything; one unsigned, wrongly signed or signed more than five minutes ago (or ahead) is refused
with 401, counted with the intake's other answers and tallied with its refusals (a row per second
at most, never one per request), and changes nothing. A signed click is acted on as the relops user
the Slack user is linked to (relops.application.slack_clicks), answered 200 at once as Slack asks
(it shows an error after three seconds), and its outcome is then posted to the click's response_url
(relops.channels.slack_response), outside the request.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from pydantic import SecretStr
from redis import Redis, RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from relops.access.slack_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature_problem
from relops.application.incidents import followers_of
from relops.application.slack_clicks import ClickDeps, act_on_click
from relops.channels.registry import configured_receivers
from relops.channels.slack_actions import Interaction, read_interaction
from relops.channels.slack_response import post_response
from relops.config import RelopsConfig
from relops.errors import InputRejected
from relops.intake.reports import Refused
from relops.redaction import known_secrets
from relops.settings import Settings
from relops.timeutil import utcnow

#: The Slack app's Interactivity request URL is the intake's address and this path.
PATH: Final = "/api/v1/slack/interactions"
#: A click's payload carries the whole message it came from (at most 50 blocks of Slack's sizes).
MAX_BODY_BYTES: Final = 1_048_576


@dataclass
class SlackInteractions:
    """What the endpoint runs with: the signing secret, where a click acts, where responses may go."""

    signing_secret: SecretStr
    clicks: ClickDeps
    #: Hosts besides hooks.slack.com a response_url may name (RELOPS_SLACK_RESPONSE_HOSTS).
    response_hosts: Collection[str] = frozenset()
    #: Every secret the process knows, masked out of a response failure's log line.
    secrets: tuple[str, ...] = ()
    now: Callable[[], datetime] = field(default=utcnow)

    def verified_click(self, body: bytes, headers: Mapping[str, str]) -> Interaction:
        """The click a request reports, once its signature is Slack's; Refused (401 unsigned, 400
        malformed) otherwise."""
        problem = signature_problem(
            self.signing_secret.get_secret_value(),
            headers.get(TIMESTAMP_HEADER),
            headers.get(SIGNATURE_HEADER),
            body,
            self.now().timestamp(),
        )
        if problem is not None:
            header, _, reason = problem.partition(" ")
            raise Refused(401, header, reason)
        try:
            return read_interaction(body)
        except InputRejected as exc:
            raise Refused(400, exc.field, exc.reason) from None

    async def respond(self, click: Interaction) -> Response:
        """Act on ``click``; 200 with its response_url's update to follow, or Refused (503) when
        PostgreSQL or Redis cannot be reached (nothing changed)."""
        try:
            response = await run_in_threadpool(act_on_click, self.clicks, click, self.now())
        except (SQLAlchemyError, RedisError):
            raise Refused(503, "service", "relops cannot reach its database or Redis right now") from None
        if response is None:  # a replay: acted on once already
            return Response(status_code=200)
        update = BackgroundTask(
            post_response, click.response_url, response, allowed_hosts=self.response_hosts, secrets=self.secrets
        )
        return Response(status_code=200, background=update)


def slack_interactions(
    settings: Settings, config: RelopsConfig, engine: Engine, redis: Redis
) -> SlackInteractions | None:
    """The endpoint's parts for one intake process, or None when no Slack app is configured."""
    if settings.slack_signing_secret is None:
        return None
    # Every receiver the config knows, configured here or not: a resolution forgets the dedup windows
    # of each (forgetting a window nobody opened costs nothing).
    receivers = tuple(configured_receivers(settings, config))
    return SlackInteractions(
        signing_secret=settings.slack_signing_secret,
        clicks=ClickDeps(
            engine=engine, redis=redis, config=config, receivers=receivers, followers=followers_of(config)
        ),
        response_hosts=settings.slack_response_host_set,
        secrets=tuple(known_secrets(settings)),
    )
