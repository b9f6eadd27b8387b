"""Alert labels: the names and values silences, maintenance windows and routes match on. Pure.

Every alert event carries labels. relops always sets ``source`` and ``severity``, and ``flow``,
``job`` and ``problem``, or ``dependency`` when the alert is about one; the config file adds its
own per flow, job or breaker (``labels = { team = "payments" }``). An event sent without labels
gets them derived from its other fields, so producers written before labels existed keep working.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from relops.errors import InputRejected

#: Names relops sets itself; a config file may not redefine them.
RESERVED = ("source", "severity", "flow", "job", "problem", "dependency")
#: Like Prometheus label names: a letter or underscore, then letters, digits, underscores.
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
MAX_VALUE_CHARS = 256
MAX_LABELS = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Halves of a surrogate pair, alone (JSON can spell them): not text, and no UTF-8 engine can read them.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def label_problem(name: object, value: object) -> str | None:
    """Why ``name = value`` cannot be a label, or None."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        return f"label name {str(name)[:70]!r} must be a letter or _ then up to 63 letters, digits or _"
    if not isinstance(value, str):
        return f"label {name!r} must have a string value, got {type(value).__name__}"
    if not value or len(value) > MAX_VALUE_CHARS:
        return f"label {name!r} must have a value of 1-{MAX_VALUE_CHARS} characters"
    if _CONTROL.search(value):
        return f"label {name!r} has control characters in its value"
    if _SURROGATE.search(value):
        return f"label {name!r} has unpaired surrogates in its value: it must be valid Unicode text"
    return None


def validate_labels(raw: Any, field: str = "labels") -> dict[str, str]:
    """A labels object as sent; raises InputRejected naming ``field`` and the label."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputRejected(field, "must be an object of label names to string values")
    if len(raw) > MAX_LABELS:
        raise InputRejected(field, f"has {len(raw)} labels, more than {MAX_LABELS}")
    for name, value in raw.items():
        problem = label_problem(name, value)
        if problem:
            raise InputRejected(field, problem)
    return dict(raw)


def subject_labels(fingerprint: str, details: Mapping[str, Any]) -> dict[str, str]:
    """What an alert is about, from its fingerprint (``slo:<flow>``, ``cron:<job>:<problem>``,
    ``breaker:<dependency>``) or its details' ``flow``, ``job`` and ``dependency``."""
    found: dict[str, str] = {}
    kind, _, rest = fingerprint.partition(":")
    if kind == "slo" and rest:
        found["flow"] = rest
    elif kind == "cron" and rest:
        job, _, problem = rest.rpartition(":")
        found.update({"job": job, "problem": problem} if job and problem else {"job": rest})
    elif kind == "breaker" and rest:
        found["dependency"] = rest
    for key in ("flow", "job", "dependency"):
        value = details.get(key)
        if key not in found and isinstance(value, str):
            found[key] = value
    return {k: v for k, v in found.items() if label_problem(k, v) is None}


def complete_labels(
    labels: Mapping[str, str], *, source: str, severity: str, fingerprint: str, details: Mapping[str, Any]
) -> dict[str, str]:
    """``labels`` with what every alert carries: its source and severity (always the event's own),
    and what it is about when the event did not say."""
    derived = subject_labels(fingerprint, details)
    completed = {**derived, **labels, "source": source, "severity": severity}
    return {k: v for k, v in completed.items() if label_problem(k, v) is None}
