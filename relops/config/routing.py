"""Receivers and the route tree of the config file ([receivers.NAME], [route]). Pure: no I/O.

A receiver is a channel type (webhook, email) and a destination; its delivery settings (rate,
attempts, timeouts, severities) default to the type's [alerts.channels.TYPE] entry. The route tree
says which receivers an alert reaches, by its labels, in Alertmanager's manner: the root matches
every alert, children are tried in order, the first match wins unless it says ``continue``, and a
child inherits what it does not set from its parent.

Receiver types and names are checked against the installed channels where channels are assembled
(relops.channels.registry), like [alerts.channels.NAME]; what can be checked here is.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from relops.errors import InputRejected
from relops.matchers import Matcher, parse_matcher

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_RECEIVER_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
#: Seconds: the shortest repeat and escalation delay (tests use seconds; production uses hours).
MIN_INTERVAL_S = 1
MAX_INTERVAL_S = 30 * 86400
MAX_ROUTE_DEPTH = 8
MAX_STEPS = 10
#: An alertmanager receiver re-sends a firing alert at least this often (Alertmanager's own advice to
#: clients: every 30 s to 3 min); at most once an hour, since each firing alert's endsAt is four
#: intervals ahead and an alert relops stopped sending should not linger for longer than that.
MAX_RESEND_INTERVAL_S = 3600
#: A webhook payload's alerts at most (max_alerts): a bound on its size, not a default.
MAX_ALERTS = 10_000


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError(f"{value[:60]!r} is not an environment variable name (A-Z, 0-9, _)")
    return value


def _queue_name(value: str) -> str:
    if not _QUEUE_NAME.match(value):
        raise ValueError(f"{value[:60]!r} is not a queue name (letters, digits, '.', '_', '-')")
    return value


def receiver_name_problem(value: str) -> str | None:
    """Receiver names become Redis keys, task arguments and log fields: a short token."""
    if not _RECEIVER_NAME.match(value):
        return f"{value[:60]!r} is not a receiver name (1-64 letters, digits, '.', '_', '-')"
    return None


def _receiver_name(value: str) -> str:
    problem = receiver_name_problem(value)
    if problem:
        raise ValueError(problem)
    return value


EnvName = Annotated[str, AfterValidator(_env_name)]
ReceiverName = Annotated[str, AfterValidator(_receiver_name)]
Interval = Annotated[int, Field(ge=MIN_INTERVAL_S, le=MAX_INTERVAL_S)]


class ReceiverConfig(BaseModel):
    """A named destination. Keys other than these are delivery settings (rate_per_s, max_attempts,
    severities, ...) or channel options (email: sender) overriding [alerts.channels.TYPE]."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True, allow_inf_nan=False)

    type: str = Field(
        min_length=1,
        max_length=64,
        description="The channel type: a module in `relops/channels/` (webhook, email, alertmanager, apprise, "
        "pagerduty, teams).",
    )
    url_env: EnvName | None = Field(
        None,
        description="webhook, teams: the environment variable that holds the URL (the URL is a secret: never in the "
        "file); alertmanager: the one that holds its base URLs, comma-separated (an HA pair: each hears every alert); "
        "apprise: the one that holds its Apprise URLs (`ntfys://…`, `discord://…`), comma-separated, each hearing "
        "every message.",
    )
    to: tuple[str, ...] | None = Field(
        None, strict=False, min_length=1, max_length=50, description="email: the recipients."
    )
    to_env: EnvName | None = Field(
        None, description="email: or the environment variable that lists them (comma-separated); not both."
    )
    resend_interval_s: Annotated[int, Field(ge=MIN_INTERVAL_S, le=MAX_RESEND_INTERVAL_S)] | None = Field(
        None,
        description="alertmanager: a firing alert is sent again this often (at most every 15 s, the incident check's "
        "interval) while its incident is open, unacknowledged and unmuted, each time with `endsAt` four intervals "
        "ahead; unset: 60.",
    )
    bearer_token_env: EnvName | None = Field(
        None,
        description="alertmanager, and webhook in the alertmanager or json format: the variable holding a bearer "
        "token sent as `Authorization: Bearer`.",
    )
    basic_auth_username_env: EnvName | None = Field(
        None, description="alertmanager: the variable holding the basic-auth user name (with the password's)."
    )
    basic_auth_password_env: EnvName | None = Field(
        None, description="alertmanager: the variable holding the basic-auth password."
    )
    routing_key_env: EnvName | None = Field(
        None,
        description="pagerduty: the variable holding the Events API v2 routing (integration) key of the PagerDuty "
        "service; a secret, never logged.",
    )
    events_url_env: EnvName | None = Field(
        None,
        description="pagerduty: the variable holding the Events API URL; unset: "
        "`https://events.pagerduty.com/v2/enqueue` (EU accounts: `https://events.eu.pagerduty.com/v2/enqueue`).",
    )
    severity_map: dict[Literal["warning", "critical"], Literal["critical", "error", "warning", "info"]] | None = Field(
        None,
        strict=False,
        description='pagerduty: relops severity to PagerDuty severity, e.g. `{ warning = "warning", critical = '
        '"critical" }` (the default); PagerDuty takes critical, error, warning and info.',
    )
    format: Literal["slack", "alertmanager", "json"] | None = Field(
        None,
        description="webhook: the payload: `slack` (Block Kit, the default), `alertmanager` (Alertmanager's webhook "
        "version 4, for tools with an Alertmanager integration) or `json` (relops' own, versioned: "
        "docs/reference/relops-webhook-v1.schema.json).",
    )
    max_alerts: Annotated[int, Field(ge=0, le=MAX_ALERTS)] | None = Field(
        None,
        description="webhook, format alertmanager or json: at most this many alerts in one payload, the rest "
        "counted (`truncatedAlerts`, `truncated_notifications`), as Alertmanager's `max_alerts`; 0 or unset: all.",
    )
    group_by_incident: bool | None = Field(
        None,
        description="webhook, format alertmanager: one payload per relops incident, its `groupKey` stable for the "
        "incident's life (true, the default: what Grafana OnCall groups by), or one payload per message (false).",
    )
    breaker: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None,
        description="The circuit breaker (`[breakers.NAME]`) guarding calls to it; unset: one named after the "
        "receiver, so one failing destination never stops deliveries to another.",
    )
    queue: Annotated[str, AfterValidator(_queue_name)] | None = Field(
        None,
        description="The queue its deliveries go to; unset: the type's (`alerts.webhook`, `alerts.email`, "
        "`alerts.alertmanager`, `alerts.apprise`, `alerts.pagerduty`, `alerts.teams`). A receiver with a queue of "
        "its own needs a worker that consumes it, and then shares no worker with any other.",
    )

    @property
    def overrides(self) -> dict[str, object]:
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _one_recipient_source(self) -> ReceiverConfig:
        if self.to is not None and self.to_env is not None:
            raise ValueError("give 'to' or 'to_env', not both")
        return self


class EscalationStep(BaseModel):
    """After ``after_s`` of an open, unacknowledged CRITICAL incident, tell ``to`` once."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    after_s: Interval = Field(description="Seconds after the incident opened.")
    to: ReceiverName = Field(description="The receiver told.")


def _matchers(value: tuple[str, ...]) -> tuple[str, ...]:
    for text in value:
        try:
            parse_matcher(text)
        except InputRejected as exc:
            raise ValueError(exc.reason) from None
    return value


class RouteConfig(BaseModel):
    """One node of the route tree. Unset keys are inherited from the parent route."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, populate_by_name=True)

    name: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None,
        description='Shown by `relops routes test` and on incidents; unset: its position ("route.routes[0]").',
    )
    matchers: Annotated[tuple[str, ...], AfterValidator(_matchers)] = Field(
        (),
        strict=False,
        max_length=20,
        description='Label matchers (`flow=checkout`, `team=~"pay.*"`, `severity!=warning`): all must match. '
        "None on the root, which matches every alert.",
    )
    receivers: tuple[ReceiverName, ...] | None = Field(
        None, strict=False, max_length=20, description="The receivers of the alerts that land here."
    )
    severities: tuple[Literal["warning", "critical"], ...] | None = Field(
        None,
        strict=False,
        min_length=1,
        description="Severities this route delivers, to all its receivers; unset everywhere: each receiver's own.",
    )
    group_wait_s: float | None = Field(None, ge=0, le=600, description="As `[alerts]` `group_wait_s`, for this route.")
    critical_group_wait_s: float | None = Field(
        None, ge=0, le=600, description="As `[alerts]` `critical_group_wait_s`, for this route."
    )
    group_interval_s: float | None = Field(
        None, ge=0, le=600, description="As `[alerts]` `group_interval_s`, for this route."
    )
    repeat_interval_s: Interval | None = Field(
        None,
        description="An open, unacknowledged incident is notified again this often while it fires, to each "
        "receiver whose interval has passed.",
    )
    escalate_after_s: Interval | None = Field(
        None, description="One escalation step, written short (with `escalate_to`); or `escalation` for a chain."
    )
    escalate_to: ReceiverName | None = Field(None, description="The receiver of that one step.")
    escalation: tuple[EscalationStep, ...] | None = Field(
        None,
        strict=False,
        max_length=MAX_STEPS,
        description='A chain of steps, `[{ after_s = 900, to = "lead" }, ...]`, in order of `after_s`: a '
        "CRITICAL incident still open, unacknowledged and unmuted that long after it opened tells the step's "
        "receiver once.",
    )
    continue_: bool = Field(
        False, alias="continue", description="After this route matches, keep trying its later siblings too."
    )
    routes: tuple[RouteConfig, ...] = Field(
        (),
        strict=False,
        max_length=100,
        description="Child routes, tried in order: the first that matches takes the alert unless it says "
        "`continue = true`.",
    )

    @property
    def parsed_matchers(self) -> tuple[Matcher, ...]:
        return tuple(parse_matcher(text) for text in self.matchers)

    @model_validator(mode="after")
    def _escalation_written_once(self) -> RouteConfig:
        if (self.escalate_after_s is None) != (self.escalate_to is None):
            raise ValueError("escalate_after_s and escalate_to go together")
        if self.escalate_to is not None and self.escalation is not None:
            raise ValueError("give escalate_after_s/escalate_to or escalation, not both")
        steps = self.escalation or ()
        delays = [step.after_s for step in steps]
        if delays != sorted(set(delays)):
            raise ValueError("escalation steps must come in order of after_s, each later than the one before")
        return self

    @property
    def escalation_steps(self) -> tuple[EscalationStep, ...] | None:
        """The chain, however it was written; None: inherited."""
        if self.escalate_to is not None and self.escalate_after_s is not None:
            return (EscalationStep(after_s=self.escalate_after_s, to=self.escalate_to),)
        return self.escalation
