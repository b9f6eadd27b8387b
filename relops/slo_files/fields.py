"""Reading one field of a parsed YAML document, each wrong type a Refused naming the field's path. Pure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from relops.slo_files.refusals import Refused


def mapping(value: Any, path: str, *, required: bool = True) -> dict[str, Any]:
    if value is None and not required:
        return {}
    if not isinstance(value, dict):
        raise Refused(path, "is required" if value is None else f"must be a mapping, got {_kind(value)}")
    return value


def text(value: Any, path: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        raise Refused(path, "is required" if value is None else f"must be a non-empty string, got {_kind(value)}")
    return value


def number(value: Any, path: str) -> Decimal:
    # bool is an int in Python; a YAML true is no number.
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise Refused(path, "is required" if value is None else f"must be a number, got {_kind(value)}")
    return Decimal(value)


def items(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise Refused(path, "is required" if value is None else "must be a non-empty list")
    return value


def string_labels(value: Any, path: str) -> dict[str, str]:
    """A labels mapping whose values are strings (or, as OpenSLO allows, a list of one string)."""
    labels: dict[str, str] = {}
    for name, raw in mapping(value, path, required=False).items():
        if isinstance(raw, list) and len(raw) == 1:
            raw = raw[0]
        if isinstance(raw, list):
            raise Refused(
                f"{path}.{name}",
                f"has {len(raw)} values; a relops label has one (choose one, or join them in one value)",
            )
        if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
            raise Refused(f"{path}.{name}", f"must be a string, got {_kind(raw)}")
        labels[str(name)] = str(raw)
    return labels


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | Decimal | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__
