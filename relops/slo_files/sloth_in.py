"""Sloth's ``prometheus/v1`` spec as relops flow entries. Pure: one parsed document in, one flow
entry (or a Refused) per SLO out.

An SLO whose SLI is ``events`` (an error query and a total query, rates of counters) becomes a
flow counting ``bad`` over ``total``; ``raw`` error ratios and plugins are refused: relops counts
events and cannot count a precomputed ratio. Sloth's period is not in its spec (its
``--default-slo-period`` flag, 30 days unless changed), so every flow gets Sloth's default, 30 days.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

from relops.slo_files.fields import items, mapping, number, string_labels, text
from relops.slo_files.openslo_terms import SERVICE_LABEL
from relops.slo_files.queries import counter_query
from relops.slo_files.refusals import Refused

VERSION: Final = "prometheus/v1"
#: Sloth's default SLO period (its --default-slo-period), which its prometheus/v1 spec cannot change.
PERIOD_DAYS: Final = 30


def sloth_flows(document: dict[str, Any]) -> Iterator[tuple[int, str, dict[str, Any] | Refused]]:
    """(the SLO's index, its name, its flow entry or why it is refused), for every SLO of the
    document; a document refused as a whole yields one ``(-1, "", Refused)``."""
    try:
        service, labels, slos = _document(document)
    except Refused as refused:
        yield -1, "", refused
        return
    for index, slo in enumerate(slos):
        path = f"slos[{index}]"
        name = slo.get("name") if isinstance(slo, dict) and isinstance(slo.get("name"), str) else f"#{index + 1}"
        try:
            yield index, name, _flow(mapping(slo, path), path, service, labels)
        except Refused as refused:
            yield index, name, refused


def _document(document: dict[str, Any]) -> tuple[str, dict[str, str], list[Any]]:
    version = document.get("version")
    if version != VERSION:
        raise Refused("version", f"is {version!r}; relops reads Sloth's {VERSION!r} spec")
    if document.get("slo_plugins") is not None:
        raise Refused("slo_plugins", "SLO plugins change the rules Sloth generates; relops cannot follow them")
    service = text(document.get("service"), "service")
    labels = string_labels(document.get("labels"), "labels")
    return service, labels, items(document.get("slos"), "slos")


def _flow(slo: dict[str, Any], path: str, service: str, labels: dict[str, str]) -> dict[str, Any]:
    name = text(slo.get("name"), f"{path}.name")
    objective = number(slo.get("objective"), f"{path}.objective")
    if not 0 < objective < 100:
        raise Refused(f"{path}.objective", "must be a percentage above 0 and below 100")
    if slo.get("plugins") is not None:
        raise Refused(f"{path}.plugins", "SLO plugins change the rules Sloth generates; relops cannot follow them")
    sli = mapping(slo.get("sli"), f"{path}.sli")
    if sli.get("raw") is not None:
        raise Refused(f"{path}.sli.raw", "a raw error ratio cannot be counted into good and bad events")
    if sli.get("plugin") is not None:
        raise Refused(f"{path}.sli.plugin", "an SLI plugin's query is Sloth's own; relops cannot count it")
    events = mapping(sli.get("events"), f"{path}.sli.events")
    queries = {}
    for key, field in (("bad", "error_query"), ("total", "total_query")):
        where = f"{path}.sli.events.{field}"
        try:
            queries[key] = counter_query(text(events.get(field), where))
        except ValueError as exc:
            raise Refused(where, str(exc)) from None
    return {
        "name": name,
        "objective_percent": Decimal(format(objective.normalize(), "f")),
        "period_days": PERIOD_DAYS,
        "description": text(slo.get("description"), f"{path}.description", required=False),
        "labels": {**labels, **string_labels(slo.get("labels"), f"{path}.labels"), SERVICE_LABEL: service},
        "prometheus": queries,
    }
