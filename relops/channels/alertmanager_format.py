"""relops notifications as Alertmanager's API v2 postable alerts (``POST /api/v2/alerts``). Pure: the
clock is an argument.

One postable alert per notification (api/v2/openapi.yaml, ``postableAlert``)::

    {"labels": {...}, "annotations": {...}, "startsAt": RFC 3339, "endsAt": RFC 3339, "generatorURL": URL}

- ``labels`` identify the alert (Alertmanager merges what it receives by its label set): every label
  of the relops alert, ``severity`` the notification's (a resolution carries the severity its firing
  had, not ``ok``), plus ``alertname`` (alert_name() says how it is chosen) and
  ``relops_fingerprint`` (the incident's fingerprint: two incidents never share one Alertmanager
  alert, even a service's alerts whose other labels are alike).
- ``annotations``: ``summary`` (the title), ``description`` (the summary), ``runbook_url``,
  ``dashboard_url`` (the incident's page on the relops dashboard); empty ones are left out.
- ``startsAt``: when the incident's episode opened; ``endsAt``: on a firing alert, the send time plus
  four resend intervals (what Prometheus does: its alerts' endsAt is 4 x max(resend delay,
  evaluation interval) ahead, and it re-sends while they fire), so an alert relops stops sending
  ends by itself; on a resolution, when it resolved.
- ``generatorURL``: the flow's page for an SLO alert, the job's for a cron alert, the incident's for
  anything else; left out without a ``dashboard_url`` in the config.

Notices (a silence created or ended) are about relops, not alerts: they are not posted.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from relops.channels.base import MessageContext, Notification
from relops.channels.facts import safe_link
from relops.labels import complete_labels
from relops.timeutil import parse_utc

#: Alerts per request, as Prometheus' notifier batches them (DefaultMaxBatchSize): a grouped message
#: of thousands is posted in requests of this many, each one small for Alertmanager to validate.
MAX_ALERTS_PER_REQUEST = 256
#: A firing alert's endsAt is this many resend intervals after it was sent (Prometheus' factor).
RESEND_FACTOR = 4
#: Names of relops' own alerts, by source (and for cron, by problem): stable for the incident's whole
#: life, so Alertmanager can route, group and inhibit on them; the subject is in the labels.
ALERT_NAMES: Mapping[str, str] = {"slo": "RelopsErrorBudgetBurn", "breaker": "RelopsDependencyDegraded"}
CRON_ALERT_NAMES: Mapping[str, str] = {
    "failing": "RelopsCronJobFailing",
    "missed": "RelopsCronJobMissed",
    "overrun": "RelopsCronJobOverrun",
}
CRON_ALERT_NAME = "RelopsCronJob"
FINGERPRINT_LABEL = "relops_fingerprint"


def rfc3339(moment: datetime) -> str:
    """UTC with milliseconds and a Z, as Go's time.RFC3339Nano reads it."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def relops_labels(n: Notification) -> dict[str, str]:
    """The alert's relops labels, its severity the notification's; completed from its fingerprint
    and details when it carries none (a notification stored before labels were kept with it)."""
    return complete_labels(n.labels, source=n.source, severity=n.severity, fingerprint=n.fingerprint, details=n.details)


def alert_name(n: Notification, labels: Mapping[str, str]) -> str:
    """The ``alertname`` label: the alert's own ``alertname`` label when it has one (a service's
    event, a config label); for relops' alerts the kind of problem (``RelopsErrorBudgetBurn``,
    ``RelopsCronJobFailing``/``Missed``/``Overrun``, ``RelopsDependencyDegraded``); for any other
    source, the source. Never the title: it changes with every evaluation, and a label set that
    changes is a new alert to Alertmanager."""
    given = labels.get("alertname")
    if given:
        return given
    if n.source == "cron":
        return CRON_ALERT_NAMES.get(labels.get("problem", ""), CRON_ALERT_NAME)
    return ALERT_NAMES.get(n.source, n.source)


def alert_labels(n: Notification) -> dict[str, str]:
    """What identifies the alert to Alertmanager (see the module doc)."""
    labels = relops_labels(n)
    labels["alertname"] = alert_name(n, labels)
    labels[FINGERPRINT_LABEL] = n.fingerprint
    return {name: _text(value) for name, value in labels.items() if value}


def _page(dashboard_url: str, *parts: str) -> str | None:
    """A page of the relops dashboard at ``dashboard_url`` (each part one path segment: a flow's name
    may hold a slash); the base's query, if any, kept."""
    base = safe_link(dashboard_url)
    if base is None:
        return None
    split = urlsplit(base)
    path = split.path.rstrip("/") + "/" + "/".join(quote(part, safe="") for part in parts)
    return urlunsplit(split._replace(path=path))


def incident_page(n: Notification, dashboard_url: str) -> str | None:
    if n.incident_id is None:
        return safe_link(dashboard_url)
    return _page(dashboard_url, "incidents", str(n.incident_id))


def generator_url(n: Notification, dashboard_url: str) -> str | None:
    """The page on the dashboard that shows what fired: the flow's, the job's, else the incident's."""
    labels = relops_labels(n)
    flow, job = labels.get("flow"), labels.get("job")
    if n.source == "slo" and flow:
        return _page(dashboard_url, "flows", flow)
    if n.source == "cron" and job:
        return _page(dashboard_url, "jobs", job)
    return incident_page(n, dashboard_url)


def _text(value: str) -> str:
    # Alertmanager refuses a label or annotation that is not valid UTF-8: a lone surrogate (which
    # JSON can spell) would fail the whole request.
    return value.encode("utf-8", "replace").decode("utf-8")


def _moment(text: str | None, default: datetime) -> datetime:
    if not text:
        return default
    try:
        return parse_utc(text)
    except ValueError:
        return default


def postable_alert(n: Notification, context: MessageContext, now: datetime, resend_interval_s: float) -> dict[str, Any]:
    """One notification as a postable alert, sent at ``now``."""
    occurred = _moment(n.occurred_at, now)
    # A firing one lives four resends ahead; a resolution ended when it resolved, never in the future.
    firing_until = now + timedelta(seconds=RESEND_FACTOR * resend_interval_s)
    ends = min(occurred, now) if n.kind == "resolved" else firing_until
    # Never after its end or in the future: Alertmanager refuses an alert that ends before it starts.
    starts = min(_moment(n.opened_at, occurred), occurred, now, ends)
    annotations = {
        "summary": n.title,
        "description": n.summary,
        "runbook_url": n.runbook_url,
        "dashboard_url": incident_page(n, context.dashboard_url) or "",
    }
    alert: dict[str, Any] = {
        "labels": alert_labels(n),
        "annotations": {name: _text(value) for name, value in annotations.items() if value},
        "startsAt": rfc3339(starts),
        "endsAt": rfc3339(ends),
    }
    link = generator_url(n, context.dashboard_url)
    if link:
        alert["generatorURL"] = link
    return alert


def postable_alerts(
    notifications: Sequence[Notification], context: MessageContext, now: datetime, resend_interval_s: float
) -> list[dict[str, Any]]:
    """Every alert and resolution of a message, in its order; notices left out."""
    return [postable_alert(n, context, now, resend_interval_s) for n in notifications if n.kind != "notice"]


def batches(alerts: Sequence[dict[str, Any]], size: int = MAX_ALERTS_PER_REQUEST) -> Iterator[list[dict[str, Any]]]:
    """``alerts`` in requests of at most ``size``."""
    for start in range(0, len(alerts), size):
        yield list(alerts[start : start + size])
