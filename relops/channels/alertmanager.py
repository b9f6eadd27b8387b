"""Prometheus Alertmanager: relops' alerts posted to ``POST {url}/api/v2/alerts``, as Prometheus posts
its own (alertmanager_format says what each alert holds).

A ``[receivers.NAME]`` of ``type = "alertmanager"``; the type has no default receiver, so nothing
is sent to an Alertmanager unless the config names one::

    [receivers.alertmanager]
    type = "alertmanager"
    url_env = "ALERTMANAGER_URLS"          # "http://am-1:9093,http://am-2:9093"
    resend_interval_s = 60                 # optional; bearer_token_env or basic_auth_*_env optional

- **HA pairs:** every URL hears every message, as Prometheus posts to each Alertmanager of a
  cluster. One that fails makes the delivery retry (to all of them: Alertmanager merges alerts by
  their label set, so a second copy changes nothing). Only when all of them fail is it an outage of
  the receiver (its breaker counts it); one of two down is retried without opening the breaker, so
  the other keeps hearing every alert.
- **Re-sending:** a firing alert is sent with ``endsAt`` four resend intervals ahead, and sent again
  every ``resend_interval_s`` while its incident stays open, unacknowledged and unmuted
  (resend_interval_s(), relops.alerting.followups): an alert relops stops sending ends in
  Alertmanager by itself.
- **Secrets:** the URLs (which may carry user info or a token in the path), the bearer token and the
  password never appear in a log line, an error or destination(): destination() shows each URL as
  relops.redaction.redact_url shows a webhook's, and every secret is masked out of error text.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from relops.alerting.followups import resend_cadence_s
from relops.channels.alertmanager_format import batches, postable_alerts
from relops.channels.base import Channel, DeliveryError, MessageContext, Notification
from relops.channels.http import header_secret_problem, post_json, url_problem
from relops.config.routing import ReceiverConfig
from relops.redaction import known_secrets, redact_url, url_secrets
from relops.settings import named_variable
from relops.timeutil import utcnow

__all__ = ["ALERTS_PATH", "DEFAULT_RESEND_INTERVAL_S", "AlertmanagerChannel"]

#: Where Alertmanager takes alerts, below its base URL (and its --web.route-prefix, if any).
ALERTS_PATH = "/api/v2/alerts"
#: Alertmanager asks clients to re-send active alerts every 30 s to 3 min; Prometheus' default is 1 min.
DEFAULT_RESEND_INTERVAL_S = 60
#: URLs one receiver posts to: an HA cluster is two or three Alertmanagers.
MAX_URLS = 10


class AlertmanagerChannel(Channel):
    """Posts relops' alerts and resolutions to one Alertmanager, or to every member of an HA cluster."""

    name = "alertmanager"
    #: Unused: every alertmanager receiver is a [receivers.NAME] with a breaker of its own.
    default_breaker = "alertmanager"
    has_default_receiver = False
    destination_keys = frozenset(
        {"url_env", "resend_interval_s", "bearer_token_env", "basic_auth_username_env", "basic_auth_password_env"}
    )
    default_severities = ("warning", "critical")
    # Alertmanager takes every alert Prometheus evaluates; the limit only bounds a storm's requests.
    default_rate_per_s = 10.0

    @classmethod
    def receiver_problem(cls, receiver: ReceiverConfig) -> str | None:
        if receiver.url_env is None:
            return (
                "an alertmanager receiver needs url_env: the environment variable that holds its Alertmanager URLs "
                "(comma-separated)"
            )
        basic = (receiver.basic_auth_username_env, receiver.basic_auth_password_env)
        if (basic[0] is None) != (basic[1] is None):
            return "basic_auth_username_env and basic_auth_password_env go together"
        if receiver.bearer_token_env is not None and basic[0] is not None:
            return "give bearer_token_env or basic_auth_username_env/basic_auth_password_env, not both"
        if receiver.overrides.get("silence_notices") is True:
            return (
                "an alertmanager receiver takes no silence notices: they are about relops, not alerts "
                "(Alertmanager shows its own silences)"
            )
        return None

    def _variable(self) -> str:
        return self.spec.url_env if self.spec is not None and self.spec.url_env else "ALERTMANAGER_URLS"

    def _urls(self) -> list[str]:
        listed = named_variable(self._variable())
        if listed is None:
            return []
        return list(dict.fromkeys(u.strip() for u in listed.get_secret_value().split(",") if u.strip()))

    def _secret(self, variable: str | None) -> str | None:
        value = named_variable(variable) if variable else None
        return value.get_secret_value() if value is not None else None

    def _credentials_problem(self) -> str | None:
        spec = self.spec
        if spec is None:
            return None
        for variable in (spec.bearer_token_env, spec.basic_auth_username_env, spec.basic_auth_password_env):
            if variable is None:
                continue
            problem = header_secret_problem(variable, self._secret(variable))
            if problem is not None:
                return problem
        username = self._secret(spec.basic_auth_username_env)
        if username is not None and ":" in username:
            return f"{spec.basic_auth_username_env} contains ':' (basic auth cannot carry it in a user name)"
        return None

    def missing_configuration(self) -> str | None:
        if self.spec is None:
            return 'an alertmanager receiver needs a [receivers.NAME] entry of type "alertmanager"'
        urls = self._urls()
        variable = self._variable()
        if not urls:
            return f"{variable} is not set"
        if len(urls) > MAX_URLS:
            return f"{variable} lists {len(urls)} URLs; at most {MAX_URLS}"
        for index, url in enumerate(urls, 1):
            where = variable if len(urls) == 1 else f"{variable} (URL {index})"
            problem = url_problem(url, where)
            if problem is None and ("?" in url or "#" in url):
                problem = f"{where} must be a base URL, without a ?query or #fragment"
            if problem is not None:
                return problem
        return self._credentials_problem()

    def destination(self) -> str:
        urls = self._urls()
        if not urls:
            return "alertmanager (not configured)"
        return ", ".join(redact_url(url, "alertmanager").rstrip("/") for url in urls)

    def rate_limit_key(self) -> str:
        # Two receivers whose masked URLs read the same are still two destinations.
        digest = hashlib.sha256(",".join(self._urls()).encode()).hexdigest()[:16]
        return f"{self.destination()}#{digest}"

    def resend_interval_s(self) -> int:
        configured = self.spec.resend_interval_s if self.spec is not None else None
        return configured or DEFAULT_RESEND_INTERVAL_S

    def _auth(self) -> tuple[dict[str, str], list[str]]:
        """The Authorization header, and the secrets it holds (to mask)."""
        spec = self.spec
        token = self._secret(spec.bearer_token_env) if spec is not None else None
        if token is not None:
            return {"Authorization": f"Bearer {token}"}, [token]
        username = self._secret(spec.basic_auth_username_env) if spec is not None else None
        password = self._secret(spec.basic_auth_password_env) if spec is not None else None
        if username is not None and password is not None:
            encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            return {"Authorization": f"Basic {encoded}"}, [password, encoded]
        return {}, []

    def send(self, notifications: Sequence[Notification], context: MessageContext) -> None:
        problem = self.missing_configuration()
        if problem is not None:
            raise DeliveryError(problem, retryable=False)
        # endsAt four resends ahead of when they really come (the check's interval bounds them).
        alerts = postable_alerts(notifications, context, utcnow(), resend_cadence_s(self.resend_interval_s()))
        if not alerts:
            return
        urls = self._urls()
        headers, credentials = self._auth()
        secrets = [*credentials, *(s for url in urls for s in _secret_parts(url)), *known_secrets(self.settings)]
        failures: list[DeliveryError] = []
        for url in urls:
            endpoint = url.rstrip("/") + ALERTS_PATH
            try:
                for batch in batches(alerts):
                    post_json(
                        endpoint,
                        batch,
                        timeout=(self.config.connect_timeout_s, self.config.read_timeout_s),
                        describe=redact_url(url, "alertmanager").rstrip("/") + ALERTS_PATH,
                        headers=headers,
                        secrets=secrets,
                    )
            except DeliveryError as error:
                failures.append(error)
        if failures:
            raise _combined(failures, len(urls))


def _secret_parts(url: str) -> list[str]:
    """What of an Alertmanager URL an error must not quote: its user info, query and token-like path
    segments (url_secrets), but not the URL as a whole, which errors show as destination() does."""
    return [part for part in url_secrets(url) if part not in (url, url.strip())]


def _combined(failures: Sequence[DeliveryError], urls: int) -> DeliveryError:
    """One error for a message some of a receiver's Alertmanagers did not take: retryable if any
    failure is (the others took it, and take it again harmlessly), partial when some took it."""
    if len(failures) == 1 and urls == 1:
        return failures[0]
    took = urls - len(failures)
    reason = "; ".join(f.reason for f in failures) + f" ({took} of {urls} Alertmanagers took it)"
    retryable = [f for f in failures if f.retryable]
    waits = [f.retry_after_s for f in retryable if f.retry_after_s]
    first = retryable[0] if retryable else failures[0]
    return DeliveryError(
        reason,
        retryable=bool(retryable),
        retry_after_s=max(waits) if waits else None,
        status=first.status,
        partial=took > 0,
    )
