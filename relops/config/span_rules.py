"""A flow's ``[flows.spans]`` table: which OpenTelemetry spans count for it, and which of them are bad.
Pure: the rules as written, checked once at start, and the attribute conditions they are made of.

A condition compares one attribute of a span (or, when the span lacks it, of its resource):

    http.route = "/api/checkout"          = != =~ !~   the value as text, as label matchers compare
    http.response.status_code >= 500      >= > <= <    the value as a number

Text conditions are relops' label matchers (relops.matchers, RE2, anchored), so a missing attribute
has the empty value, as a missing label does: ``http.route != "/health"`` holds for a span without
``http.route``. A number condition holds only for an integer or floating-point attribute: a missing
one, or one of another type, never satisfies it (a span without a status code is not a 5xx).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relops.errors import InputRejected
from relops.matchers import MAX_MATCHER_CHARS, Matcher, value_matcher

#: An attribute's value as the conditions see it (OTLP's AnyValue scalars; arrays, maps and bytes
#: are left out, so no condition holds on them but ``!=`` and ``!~``).
AttributeValue = str | bool | int | float
#: OTLP's SpanKind, by its number in the protocol (opentelemetry/proto/trace/v1/trace.proto).
SPAN_KINDS: tuple[str, ...] = ("unspecified", "internal", "server", "client", "producer", "consumer")
SpanKindName = Literal["unspecified", "internal", "server", "client", "producer", "consumer"]
TEXT_OPERATORS = ("=~", "!~", "!=", "=")
NUMBER_OPERATORS = (">=", "<=", ">", "<")
#: OpenTelemetry's attribute names are dotted (``http.response.status_code``); this admits those
#: and the other characters instrumentation libraries use, nothing that could hide an operator.
_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:/\-]{0,254}$")
_SYNTAX = re.compile(r"^([^\s=!<>~]+)\s*(=~|!~|!=|>=|<=|=|>|<)\s*(.*)$", re.DOTALL)
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$")
MAX_NAMES = 100
MAX_CONDITIONS = 20
MAX_SPAN_NAME_CHARS = 512
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class Condition:
    """One checked condition on an attribute."""

    attribute: str
    op: str
    #: The text operators' matcher (None for a number operator).
    matcher: Matcher | None
    #: The number operators' operand (None for a text operator).
    number: float | None
    text: str

    def holds(self, attributes: Mapping[str, AttributeValue]) -> bool:
        value = attributes.get(self.attribute)
        if self.matcher is not None:
            text = "" if value is None else value if type(value) is str else as_text(value)
            # = and != compared here (as Matcher.matches does): this runs for every span of a flow.
            if self.op == "=":
                return text == self.matcher.value
            if self.op == "!=":
                return text != self.matcher.value
            return self.matcher.matches({self.attribute: text})
        # bool is an int in Python; true is not 1 here.
        if not isinstance(value, int | float) or isinstance(value, bool):
            return False
        assert self.number is not None
        if self.op == ">=":
            return value >= self.number
        if self.op == ">":
            return value > self.number
        if self.op == "<=":
            return value <= self.number
        return value < self.number

    def __str__(self) -> str:
        return self.text


def as_text(value: AttributeValue) -> str:
    """An attribute's value as a text condition compares it: true/false as OTLP's JSON writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)


def parse_condition(text: str, field_name: str = "attributes") -> Condition:
    """``http.route = "/api/checkout"``, ``http.response.status_code >= 500``; InputRejected naming
    ``field_name`` and saying what is wrong."""
    if len(text) > MAX_MATCHER_CHARS:
        raise InputRejected(field_name, f"a condition of {len(text)} characters is longer than {MAX_MATCHER_CHARS}")
    found = _SYNTAX.match(text.strip())
    if not found:
        raise InputRejected(
            field_name,
            f'{text[:80]!r} is not a condition like http.route = "/api/checkout" or http.response.status_code >= 500',
        )
    attribute, op, value = found.groups()
    if not _ATTRIBUTE.match(attribute):
        raise InputRejected(field_name, f"{attribute[:70]!r} is not an attribute name (letters, digits, _ . : / -)")
    if op in NUMBER_OPERATORS:
        if not _NUMBER.match(value) or not math.isfinite(float(value)):
            raise InputRejected(field_name, f"{text[:80]!r}: {op} compares numbers, and {value[:40]!r} is not one")
        return Condition(attribute, op, None, float(value), text.strip())
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    return Condition(attribute, op, value_matcher(attribute, op, value, field_name), None, text.strip())


def _conditions(values: tuple[str, ...]) -> tuple[str, ...]:
    for text in values:
        try:
            parse_condition(text)
        except InputRejected as exc:
            raise ValueError(exc.reason) from None
    return values


class SpanRules(BaseModel):
    """Which spans count for a flow ([flows.spans]): every rule must hold. A span counts for each flow
    whose rules it meets; a span meeting no flow's rules is counted and dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    service: str = Field(
        min_length=1,
        max_length=256,
        description="The spans' service: their resource's `service.name` attribute, exactly (required).",
    )
    names: tuple[str, ...] = Field(
        (),
        strict=False,
        max_length=MAX_NAMES,
        description='Span names that count, exactly (e.g. `["POST /api/checkout"]`); empty: any name.',
    )
    kinds: tuple[SpanKindName, ...] = Field(
        ("server", "consumer"),
        strict=False,
        min_length=1,
        description="Span kinds that count: `server`, `consumer` (the default: a request or message "
        "handled), `client`, `producer`, `internal`, `unspecified`.",
    )
    attributes: tuple[str, ...] = Field(
        (),
        strict=False,
        max_length=MAX_CONDITIONS,
        description="Conditions every counted span meets, on the span's attributes or else its resource's: "
        '`http.route = "/api/checkout"` (`=`, `!=`, `=~`, `!~` compare text, as label matchers do; RE2, '
        "anchored), `http.response.status_code >= 500` (`>=`, `>`, `<=`, `<` compare numbers).",
    )
    bad_when: tuple[str, ...] = Field(
        (),
        strict=False,
        max_length=MAX_CONDITIONS,
        description="Conditions that make a counted span bad when any holds (e.g. "
        '`["http.response.status_code >= 500"]`). A span whose status is ERROR is always bad.',
    )

    @field_validator("service")
    @classmethod
    def _printable(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("names")
    @classmethod
    def _names(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for name in values:
            if not name or len(name) > MAX_SPAN_NAME_CHARS or _CONTROL.search(name):
                raise ValueError(f"each span name must be 1-{MAX_SPAN_NAME_CHARS} printable characters")
        return values

    @field_validator("attributes", "bad_when")
    @classmethod
    def _parsed(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        return _conditions(values)

    def conditions(self) -> tuple[Condition, ...]:
        return tuple(parse_condition(text) for text in self.attributes)

    def bad_conditions(self) -> tuple[Condition, ...]:
        return tuple(parse_condition(text, "bad_when") for text in self.bad_when)
