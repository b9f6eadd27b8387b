"""Label matchers, as Alertmanager writes them: ``flow=checkout``, ``flow!=checkout``,
``flow=~"check.*"``, ``flow!~"test-.*"``. Pure.

A regular expression matches the whole value (it is anchored). A label the alert does not carry
has the empty value, so ``team!=payments`` matches an alert without a team label and
``team=payments`` does not.

Regular expressions run on RE2 (google-re2), the engine family of Go's regexp, which Alertmanager
uses: a match takes time linear in the value whatever the pattern, so no silence, route or
maintenance window can make matching an alert slow. RE2 refuses what only backtracking can do
(backreferences, lookahead and lookbehind); such a pattern is refused with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import re2

from relops.errors import InputRejected
from relops.labels import NAME_PATTERN

OPERATORS = ("=~", "!~", "!=", "=")
MAX_VALUE_CHARS = 256
#: A label name (64), an operator, a quoted value and some spaces: longer text is refused unread.
MAX_MATCHER_CHARS = 400
# Applied to stripped text only: a trailing \s* after a lazy value would backtrack quadratically.
_SYNTAX = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*)$", re.DOTALL)
_RE2_OPTIONS = re2.Options()
# A refused pattern is answered to its author; RE2 writing it to stderr as well helps nobody.
_RE2_OPTIONS.log_errors = False


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    #: The compiled RE2 pattern of =~ and !~ (google-re2 exports no type for it).
    _pattern: Any = field(default=None, compare=False, repr=False)
    #: Why a stored regular expression cannot be used (see stored_matcher): then it matches nothing.
    refused: str = ""

    @property
    def is_equality(self) -> bool:
        return self.op == "="

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.refused:
            return False
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
    return value_matcher(name, op, value, field_name)


def value_matcher(name: str, op: str, value: str, field_name: str = "matchers") -> Matcher:
    """A checked matcher on a name the caller has checked: the same operators and values as a label
    matcher, for names that are not label names (an OpenTelemetry attribute such as ``http.route``).
    Raises InputRejected naming ``field_name``."""
    if op not in OPERATORS:
        raise InputRejected(field_name, f"operator {op[:10]!r} must be one of {', '.join(OPERATORS)}")
    if len(value) > MAX_VALUE_CHARS or any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise InputRejected(
            field_name, f"the value for {name!r} must be at most {MAX_VALUE_CHARS} printable characters"
        )
    pattern = None
    if op in ("=~", "!~"):
        pattern = _compile(name, op, value, field_name)
    elif not value and op == "=":
        # "flow=" would match alerts without a flow: say it with flow!~".+" if that is what is meant.
        raise InputRejected(field_name, f"{name}= needs a value")
    return Matcher(name, op, value, pattern)


def _compile(name: str, op: str, value: str, field_name: str) -> Any:
    """``value`` compiled by RE2; InputRejected saying why RE2 refuses it."""
    try:
        return re2.compile(value, _RE2_OPTIONS)
    except re2.error as exc:
        detail = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        if "(?=" in detail or "(?!" in detail or "(?<" in detail:
            why = "lookahead and lookbehind are not supported"
        elif "invalid escape sequence: \\" in detail and detail[-1:].isdigit():
            why = "backreferences are not supported"
        else:
            why = detail
        raise InputRejected(
            field_name,
            f"{name}{op}{value[:60]!r} is not a regular expression relops accepts: {why}. Regular expressions "
            "use RE2 syntax, as Alertmanager's do (no backreferences or lookaround, so a match takes linear time)",
        ) from None


def parse_matcher(text: str, field_name: str = "matchers") -> Matcher:
    """``flow=checkout``, ``team!=payments``, ``flow=~"check.*"`` (quotes optional)."""
    if len(text) > MAX_MATCHER_CHARS:
        raise InputRejected(field_name, f"a matcher of {len(text)} characters is longer than {MAX_MATCHER_CHARS}")
    found = _SYNTAX.match(text.strip())
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


def stored_matcher(raw: Any) -> Matcher:
    """A matcher as stored with a silence. One stored before relops used RE2 may hold a pattern RE2
    refuses: it comes back ``refused`` and matches nothing, so its silence mutes nothing (an alert
    pages rather than being muted by a pattern nobody can evaluate) and still shows what it was."""
    try:
        return matcher_from_dict(raw)
    except InputRejected as exc:
        parts = [str(raw.get(k, "")) if isinstance(raw, Mapping) else "" for k in ("name", "op", "value")]
        return Matcher(parts[0] or "?", parts[1] or "=~", parts[2], refused=exc.reason)


def all_match(matchers: tuple[Matcher, ...], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
