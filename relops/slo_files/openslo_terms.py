"""The OpenSLO words relops reads and writes, in one place for the import and the export. Pure."""

from __future__ import annotations

from typing import Final

API_VERSION: Final = "openslo/v1"
#: The one budgeting method relops' burn rates are: good events over all events.
OCCURRENCES: Final = "Occurrences"
PROMETHEUS: Final = "Prometheus"
#: The metricSource type of a flow whose counts services push to relops (no query anywhere):
#: ``spec.flow`` names the flow, so that importing the export gives the pushed flow back.
RELOPS_SOURCE: Final = "relops"
#: Under a relops metricSource's spec: the [flows.spans] rules of a flow counted from OpenTelemetry spans.
SPANS_KEY: Final = "spans"
#: Annotations (OpenSLO's place for implementation-specific metadata) for the flow keys OpenSLO has
#: no field for, written only when they differ from relops' defaults.
URL_ENV_ANNOTATION: Final = "relops/prometheus-url-env"
TIMEOUT_ANNOTATION: Final = "relops/prometheus-timeout-s"
RUNBOOK_ANNOTATION: Final = "relops/runbook"
#: The flow label OpenSLO's ``spec.service`` (and Sloth's ``service``) becomes.
SERVICE_LABEL: Final = "service"
