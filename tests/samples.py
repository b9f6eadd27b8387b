"""Sample alert notifications shared by the channel rendering tests."""

from __future__ import annotations

import dataclasses
from typing import Any

from relops.channels.base import MessageContext, Notification

AT = "2026-11-27T12:31:00+00:00"
RUNBOOK = "https://runbooks.example.com/checkout.md"
DASHBOARD = "https://grafana.example.com/d/relops?orgId=1&refresh=30s"
CONTEXT = MessageContext(message_key="msg-1", dashboard_url=DASHBOARD, max_full=5)
TITLE = "CRITICAL: checkout burning its error budget at 20.0x over 1h"
#: Alertmanager's webhook payload, version 4: prometheus/alertmanager notify/webhook/webhook.go
#: ``Message`` (version, groupKey, truncatedAlerts, and template.Data's fields, template/template.go),
#: and each alert's (template.Alert). Every field, exactly.
ALERTMANAGER_WEBHOOK_KEYS = frozenset(
    {
        "version",
        "groupKey",
        "truncatedAlerts",
        "receiver",
        "status",
        "alerts",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
    }
)
ALERTMANAGER_WEBHOOK_ALERT_KEYS = frozenset(
    {"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"}
)


def slo_details(flow: str = "checkout") -> dict[str, Any]:
    """What relops.alerting.events.evaluation_details produces for a flow burning at 20x over 1h."""
    return {
        "flow": flow,
        "objective_percent": 99.9,
        "evaluated_at": AT,
        "windows": {
            "1h": {"window_s": 3600, "events": 1000, "errors": 20, "burn_rate": 20.0, "status": "critical"},
            "6h": {"window_s": 21600, "events": 0, "errors": 0, "burn_rate": None, "status": "no_data"},
            "24h": {"window_s": 86400, "events": 2000, "errors": 4, "burn_rate": 2.0, "status": "warning"},
        },
        "period_days": 30,
        "period_events": 1_000_000,
        "period_errors": 300,
        "budget_remaining": 0.7,
        "budget_exhausted": False,
        "time_to_exhaustion_s": 90_720,
    }


def notification(*, summary: str, **changes: Any) -> Notification:
    """A critical SLO alert for checkout, with ``changes`` applied."""
    base = Notification(
        fingerprint="slo:checkout",
        kind="firing",
        severity="critical",
        source="slo",
        title=TITLE,
        summary=summary,
        details=slo_details(),
        runbook_url=RUNBOOK,
        occurred_at=AT,
    )
    return dataclasses.replace(base, **changes)
