"""Config validation errors in the words of someone editing the file: which file, which flow, job
or window, which field, and why; never pydantic's internal names. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: An error message lists this many problems, then counts the rest.
MAX_PROBLEMS = 20


def quoted(value: str, limit: int = 60) -> str:
    """``value`` quoted for a message and cut to ``limit`` characters: file text can be any length."""
    return repr(value) if len(value) <= limit else repr(value[:limit]) + "..."


def _item_label(items: object, index: int, kind: str, fallback: str) -> str:
    raw = items[index] if isinstance(items, list) and index < len(items) else None
    name = raw.get("name") if isinstance(raw, dict) else None
    # Only a string is shown as a name: repr() of a 5000-digit TOML integer raises ValueError.
    return f"{kind} {quoted(name)}" if isinstance(name, str) and name else fallback


def describe_location(data: dict[str, Any], loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into words: flow 'checkout', field 'objective_percent'."""
    evaluation = data.get("evaluation")
    windows = evaluation.get("windows") if isinstance(evaluation, dict) else None
    for prefix, items, kind in (
        (("flows",), data.get("flows"), "flow"),
        (("jobs",), data.get("jobs"), "job"),
        (("maintenance",), data.get("maintenance"), "maintenance window"),
        (("evaluation", "windows"), windows, "window"),
    ):
        at = len(prefix)
        if len(loc) > at and loc[:at] == prefix and isinstance(loc[at], int):
            label = _item_label(items, loc[at], kind, f"{'.'.join(prefix)}[{loc[at]}]")
            rest = loc[at + 1 :]
            return f"{label} field {quoted('.'.join(map(str, rest)))}" if rest else label
    return f"field {quoted('.'.join(map(str, loc)))}" if loc else "top level"


#: pydantic's words for a value of the wrong kind, in TOML's terms ("instance of EvaluationConfig"
#: means nothing to someone editing the file).
TOML_KIND_MESSAGES = {
    "model_type": "must be a table",
    "dict_type": "must be a table",
    "tuple_type": "must be an array",
}


def problem_list(problems: list[str]) -> str:
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > len(shown):
        shown.append(f"... and {len(problems) - len(shown)} more problems")
    return "invalid config:\n  " + "\n  ".join(shown)


def validation_problems(errors: Sequence[Mapping[str, Any]], data: dict[str, Any], source: str) -> list[str]:
    """One line per pydantic error: ``<source>: <where>: <what is wrong>``."""
    return [
        f"{source}: {describe_location(data, err['loc'])}: "
        f"{TOML_KIND_MESSAGES.get(err['type']) or err['msg'].removeprefix('Value error, ')}"
        for err in errors
    ]
