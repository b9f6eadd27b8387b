"""Label matchers, as Alertmanager writes them: ``flow=checkout``, ``flow!=checkout``,
``flow=~"check.*"``, ``flow!~"test-.*"``. Pure.

A regular expression matches the whole value (it is anchored). A label the alert does not carry
has the empty value, so ``team!=payments`` matches an alert without a team label and
``team=payments`` does not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from relops.alerting.labels import NAME_PATTERN
from relops.errors import InputRejected

OPERATORS = ("=~", "!~", "!=", "=")
MAX_VALUE_CHARS = 256
_SYNTAX = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    _pattern: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @property
    def is_equality(self) -> bool:
        return self.op == "="

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.op == "=":
            return actual == self.value
        if self.op == "!=":
            return actual != self.value
        assert self._pattern is not None
        found = self._pattern.fullmatch(actual) is not None
        return found if self.op == "=~" else not found

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "value": self.value}

    def __str__(self) -> str:
        value = self.value if self.op in ("=", "!=") else f'"{self.value}"'
        return f"{self.name}{self.op}{value}"


def matcher(name: str, op: str, value: str, field_name: str = "matchers") -> Matcher:
    """A checked matcher; raises InputRejected naming ``field_name``."""
    if not NAME_PATTERN.match(name):
        raise InputRejected(field_name, f"{name[:70]!r} is not a label name")
    if op not in OPERATORS:
        raise InputRejected(field_name, f"operator {op[:10]!r} must be one of {', '.join(OPERATORS)}")
    if len(value) > MAX_VALUE_CHARS or any(ord(c) < 32 for c in value):
        raise InputRejected(
            field_name, f"the value for {name!r} must be at most {MAX_VALUE_CHARS} printable characters"
        )
    pattern = None
    if op in ("=~", "!~"):
        try:
            pattern = re.compile(value)
        except re.error as exc:
            raise InputRejected(field_name, f"{name}{op}{value[:60]!r} is not a regular expression: {exc}") from None
    elif not value and op == "=":
        # "flow=" would match alerts without a flow: say it with flow!~".+" if that is what is meant.
        raise InputRejected(field_name, f"{name}= needs a value")
    return Matcher(name, op, value, pattern)


def parse_matcher(text: str, field_name: str = "matchers") -> Matcher:
    """``flow=checkout``, ``team!=payments``, ``flow=~"check.*"`` (quotes optional)."""
    found = _SYNTAX.match(text)
    if not found:
        raise InputRejected(field_name, f'{text[:80]!r} is not a matcher like flow=checkout, flow!=x, flow=~"c.*"')
    name, op, value = found.groups()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return matcher(name, op, value, field_name)


def matcher_from_dict(raw: Any, field_name: str = "matchers") -> Matcher:
    """A matcher as stored or sent as JSON: {"name": ..., "op": ..., "value": ...}."""
    if not isinstance(raw, Mapping) or not all(isinstance(raw.get(k), str) for k in ("name", "op", "value")):
        raise InputRejected(field_name, 'each matcher must be {"name": str, "op": "=|!=|=~|!~", "value": str}')
    return matcher(raw["name"], raw["op"], raw["value"], field_name)


def all_match(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
