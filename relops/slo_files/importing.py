"""``relops slo import``: OpenSLO and Sloth files to relops flows, and what was refused. Pure:
the caller reads the files and hands over their text.

Each flow is validated by relops' own config model (``parse_config``), so what the import writes is
known to load. Flow names are unique in a config: an SLO named like one already imported is
refused, naming both. Documents that describe alerting (OpenSLO alert policies, Sloth's
``alerting``) are noted, not imported: relops pages by its own burn-rate windows (``[evaluation]``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from relops.config import FlowConfig
from relops.config.loader import parse_config
from relops.errors import ConfigError
from relops.slo_files import openslo_in, sloth_in
from relops.slo_files.openslo_terms import API_VERSION
from relops.slo_files.refusals import Refusal, Refused
from relops.slo_files.yaml_text import YamlError, load_documents


@dataclass
class ImportResult:
    flows: list[FlowConfig] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)
    #: What was read and deliberately left out (alerting), one line each.
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Document:
    file: str
    label: str
    body: dict[str, Any]


def import_files(files: Sequence[tuple[str, str]]) -> ImportResult:
    """Flows from ``files``, each a (name to show, YAML text) pair; SLIs and DataSources an SLO names
    may be in any of them."""
    result = ImportResult()
    openslo: list[_Document] = []
    sloth: list[_Document] = []
    for file, content in files:
        try:
            documents = load_documents(content)
        except YamlError as exc:
            result.refusals.append(Refusal(file, "(the file)", "(YAML)", str(exc)))
            continue
        if not documents:
            result.refusals.append(Refusal(file, "(the file)", "(YAML)", "has no document"))
        for index, body in enumerate(documents, start=1):
            _sort(file, index, body, openslo, sloth, result)
    catalog = _catalog(openslo, result)
    drafts: list[tuple[_Document, str, dict[str, Any]]] = []
    for document in openslo:
        if document.body.get("kind") == "SLO":
            try:
                drafts.append((document, "metadata.name", openslo_in.slo_flow(document.body, catalog)))
            except Refused as refused:
                result.refusals.append(Refusal(document.file, document.label, refused.field, refused.reason))
    for document in sloth:
        slos = document.body.get("slos")
        if isinstance(slos, list) and any(isinstance(slo, dict) and slo.get("alerting") for slo in slos):
            result.notes.append(f"{document.file}: {document.label}: alerting: not imported ({_ALERTING})")
        for index, slo_name, outcome in sloth_in.sloth_flows(document.body):
            label = f"{document.label} SLO {slo_name}" if slo_name else document.label
            if isinstance(outcome, Refused):
                result.refusals.append(Refusal(document.file, label, outcome.field, outcome.reason))
            else:
                drafts.append((_Document(document.file, label, document.body), f"slos[{index}].name", outcome))
    _validate(drafts, result)
    order = {file: index for index, (file, _) in enumerate(files)}
    result.refusals.sort(key=lambda refusal: order.get(refusal.file, len(order)))
    return result


#: Sloth's Kubernetes resource (PrometheusServiceLevel) wraps the same SLOs as its prometheus/v1 file.
_SLOTH_KUBERNETES = "sloth.slok.dev/"
_SLOTH_KUBERNETES_REASON = (
    "is Sloth's Kubernetes resource; relops reads Sloth's prometheus/v1 files: the resource's spec with "
    "version: prometheus/v1 added"
)
_ALERTING = "relops pages by its own burn-rate windows, [evaluation] in its config"


def _sort(
    file: str, index: int, body: Any, openslo: list[_Document], sloth: list[_Document], result: ImportResult
) -> None:
    """Puts one document with its kind's, or refuses it."""
    where = f"document {index}"
    if not isinstance(body, dict):
        result.refusals.append(Refusal(file, where, "(document)", "is not a mapping of fields"))
        return
    if "apiVersion" in body:
        kind = body.get("kind")
        metadata = body.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        label = f"{kind} {name}" if isinstance(kind, str) and isinstance(name, str) else where
        if str(body["apiVersion"]).startswith(_SLOTH_KUBERNETES):
            result.refusals.append(Refusal(file, label, "apiVersion", _SLOTH_KUBERNETES_REASON))
        elif body["apiVersion"] != API_VERSION:
            result.refusals.append(
                Refusal(file, label, "apiVersion", f"is {body['apiVersion']!r}; relops reads OpenSLO {API_VERSION!r}")
            )
        elif not isinstance(kind, str) or kind not in openslo_in.KINDS:
            result.refusals.append(Refusal(file, label, "kind", f"is {kind!r}; relops reads {_kinds()}"))
        elif not isinstance(name, str) or not name:
            result.refusals.append(Refusal(file, label, "metadata.name", "is required"))
        elif kind in openslo_in.ALERTING_KINDS:
            result.notes.append(f"{file}: {label}: not imported ({_ALERTING})")
        else:
            openslo.append(_Document(file, label, body))
    elif "version" in body:
        service = body.get("service")
        label = f"Sloth service {service}" if isinstance(service, str) else f"Sloth {where}"
        sloth.append(_Document(file, label, body))
    else:
        result.refusals.append(
            Refusal(file, where, "apiVersion", "neither an OpenSLO document (apiVersion) nor a Sloth spec (version)")
        )


def _kinds() -> str:
    return ", ".join(sorted(openslo_in.KINDS))


def _catalog(documents: list[_Document], result: ImportResult) -> openslo_in.Catalog:
    catalog = openslo_in.Catalog()
    defined: dict[tuple[str, str], _Document] = {}
    for document in documents:
        kind, body = document.body["kind"], document.body
        name = body["metadata"]["name"]
        spec = body.get("spec")
        if kind in ("SLI", "DataSource"):
            # An SLO naming it would otherwise get whichever came last: which one it meant is unknown.
            first = defined.setdefault((kind, name), document)
            if first is not document:
                reason = f"{kind} {name!r} is already defined in {first.file}; names are unique per kind"
                result.refusals.append(Refusal(document.file, document.label, "metadata.name", reason))
                continue
        if kind == "SLI":
            if not isinstance(spec, dict):
                result.refusals.append(Refusal(document.file, document.label, "spec", "must be a mapping"))
                continue
            catalog.indicators[name] = spec
        elif kind == "DataSource":
            catalog.data_sources[name] = spec.get("type") if isinstance(spec, dict) else None
    return catalog


def _validate(drafts: list[tuple[_Document, str, dict[str, Any]]], result: ImportResult) -> None:
    """Each draft through relops' own config model; a name already taken is refused."""
    seen: dict[str, str] = {}
    for document, name_field, draft in drafts:
        name = draft["name"]
        if name in seen:
            result.refusals.append(
                Refusal(document.file, document.label, name_field, f"flow {name!r} is already made by {seen[name]}")
            )
            continue
        try:
            config = parse_config({"flows": [draft]}, "the flow it makes")
        except ConfigError as exc:
            result.refusals.append(Refusal(document.file, document.label, "(as a relops flow)", str(exc)))
            continue
        seen[name] = f"{document.file}: {document.label}"
        result.flows.append(config.flows[0])
