"""The bytes of a scrape: which format the scraper gets, as prometheus_client negotiates it
(OpenMetrics when its Accept asks, as Prometheus' does; the classic text format otherwise), and the
families written in it. Pure.

The writers here write what prometheus_client's own writers write, byte for byte
(tests/unit/test_metrics_exposition.py compares them on every family relops makes), with two
differences that are the reason they exist:

- Time. prometheus_client checks and escapes every name and label of every sample anew, about 4 µs
  a sample on this machine: 600 ms for the 140,000 samples of 10,000 flows, most of a one-second
  scrape. These writers check each family's names once, and write the labels of a dict the samples
  share (every series of a flow shares one) once per scrape.
- Colons. prometheus_client 0.26 writes OpenMetrics sample names with the "underscores" escaping it
  picks when the scraper names none, but its HELP and TYPE lines without it, so Sloth's
  slo:objective:ratio would come out as two names, slo:objective:ratio and slo_objective_ratio
  (github.com/prometheus/client_python issue 1177). Names in Prometheus' legacy character set, which
  every relops name is, need no escaping: they are written as they are, on every line.

A family or label name outside that set (none of relops', by construction) is handed to
prometheus_client's own writer, which escapes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import partial
from typing import Final

from prometheus_client.exposition import choose_encoder
from prometheus_client.exposition import generate_latest as client_text
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.utils import floatToGoString

OPENMETRICS_TYPE: Final = "application/openmetrics-text"
#: Prometheus' legacy metric and label names: nothing in them is escaped, in either format.
_METRIC_NAME: Final = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME: Final = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
#: The sample suffixes the classic format moves into gauges of their own, after the family's samples.
_MOVED_SUFFIXES: Final = ("_created", "_gsum", "_gcount")
_CLASSIC_TYPES: Final = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram", "unknown": "untyped"}

Writer = Callable[[Iterable[Metric]], bytes]


class _Unwritable(Exception):
    """A name outside the legacy character set: prometheus_client's writer escapes it instead."""


def writer_for(accept: str) -> tuple[Writer, str]:
    """(writer, content type) for a scrape whose Accept header is ``accept``: prometheus_client's
    negotiation, relops' writers."""
    encoder, content_type = choose_encoder(accept)
    if content_type.startswith(OPENMETRICS_TYPE):
        version = getattr(encoder, "keywords", {}).get("version", "1.0.0")
        return partial(write_openmetrics, version=version), content_type
    return write_text, content_type


def _escape_value(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


class _Written:
    """What one scrape has written already: label strings by labels dict (the samples of a flow share
    their dicts: keyed by identity, as the dicts live in the families being written, no id is reused
    meanwhile), values (objectives, thresholds and most counts repeat across flows), and the names
    found legal."""

    def __init__(self) -> None:
        self._labels: dict[int, str] = {}
        self._values: dict[float, str] = {}
        self._label_names: set[str] = set()
        self._metric_names: set[str] = set()

    def labels(self, labels: dict[str, str]) -> str:
        written = self._labels.get(id(labels))
        if written is None:
            written = self._labels[id(labels)] = self._label_text(labels)
        return written

    def _label_text(self, labels: dict[str, str]) -> str:
        if not labels:
            return ""
        parts = []
        for name in sorted(labels):
            if name not in self._label_names:
                if not _LABEL_NAME.match(name) or name.startswith("__"):
                    raise _Unwritable(name)
                self._label_names.add(name)
            parts.append(f'{name}="{_escape_value(labels[name])}"')
        return "{" + ",".join(parts) + "}"

    def value(self, value: float) -> str:
        written = self._values.get(value)
        if written is None:
            written = floatToGoString(value)
            if value == value:  # NaN is no key: it never equals itself
                self._values[value] = written
        return written

    def name(self, name: str) -> str:
        if name not in self._metric_names:
            if not _METRIC_NAME.match(name):
                raise _Unwritable(name)
            self._metric_names.add(name)
        return name


class _Families:
    """What the writers were given, once: a collector's families, to hand on if a writer gives up."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> list[Metric]:
        return self.families


def write_text(families: Iterable[Metric]) -> bytes:
    """The classic text format (0.0.4): prometheus_client.exposition.generate_latest's bytes."""
    given = _Families(families)
    try:
        return _text(given.families)
    except _Unwritable:
        return client_text(given)


def _text(families: list[Metric]) -> bytes:
    written = _Written()
    labels, value, checked = written.labels, written.value, written.name
    out: list[str] = []
    append = out.append
    for metric in families:
        name = checked(metric.name)
        kind = metric.type
        shown = name + "_total" if kind == "counter" else name + "_info" if kind == "info" else name
        doc = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
        append(f"# HELP {checked(shown)} {doc}\n# TYPE {shown} {_CLASSIC_TYPES.get(kind, kind)}\n")
        moved: dict[str, list[str]] = {}
        moved_names = {name + suffix: suffix for suffix in _MOVED_SUFFIXES}
        for sample in metric.samples:
            line = f"{checked(sample.name)}{labels(sample.labels)} {value(sample.value)}"
            if sample.timestamp is not None:
                line += f" {int(float(sample.timestamp) * 1000):d}"
            suffix = moved_names.get(sample.name)
            if suffix is None:
                append(line + "\n")
            else:
                moved.setdefault(suffix, []).append(line + "\n")
        for suffix, lines in sorted(moved.items()):
            append(f"# HELP {name + suffix} {doc}\n# TYPE {name + suffix} gauge\n")
            out.extend(lines)
    return "".join(out).encode("utf-8")


def write_openmetrics(families: Iterable[Metric], version: str = "1.0.0") -> bytes:
    """OpenMetrics text: prometheus_client.openmetrics.exposition.generate_latest's bytes for legacy
    names (their "allow-utf-8" writing, which is what "underscores" means for such names)."""
    given = _Families(families)
    try:
        return _openmetrics(given.families)
    except _Unwritable:
        return openmetrics.generate_latest(given, escaping=openmetrics.UNDERSCORES, version=version)


def _openmetrics(families: list[Metric]) -> bytes:
    written = _Written()
    labels, value, checked = written.labels, written.value, written.name
    out: list[str] = []
    append = out.append
    for metric in families:
        name = checked(metric.name)
        for sample in metric.samples:
            if sample.exemplar is not None or sample.native_histogram is not None:
                raise _Unwritable(name)  # relops writes neither: prometheus_client knows their syntax
        append(f"# HELP {name} {_escape_value(metric.documentation)}\n# TYPE {name} {metric.type}\n")
        if metric.unit:
            append(f"# UNIT {name} {metric.unit}\n")
        for sample in metric.samples:
            timestamp = "" if sample.timestamp is None else f" {sample.timestamp}"
            append(f"{checked(sample.name)}{labels(sample.labels)} {value(sample.value)}{timestamp}\n")
    append("# EOF\n")
    return "".join(out).encode("utf-8")
