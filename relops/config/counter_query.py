"""The PromQL a Prometheus-sourced flow may give for its good, bad and total events. Pure.

relops counts a flow's events per minute exactly, from the raw samples of counters (never from
``rate()`` or ``increase()``, which extrapolate), so what it takes is a counter selector, optionally
summed: ``http_requests_total{job="checkout",code!~"5.."}`` or
``sum(http_requests_total{job="checkout",code!~"5.."})`` (with ``by``/``without`` grouping, which is
ignored: a flow's events are the sum of every series the selector matches). relops then asks for
the selector's raw samples as a range vector and sums each series' increases itself, counter resets
included. Anything else (a rate, a ratio, a function) is refused with the form it should take.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

#: A metric name as Prometheus defines it.
_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_MATCH_OPERATOR = re.compile(r"=~|!~|!=|=")
_GROUPING = re.compile(r"(by|without)\s*\(\s*(?:[a-zA-Z_][a-zA-Z0-9_]*\s*(?:,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*)*,?)?\)")
_SUM = re.compile(r"sum\b")
#: Longer expressions are not counters a person wrote; the bound keeps errors and URLs short.
MAX_CHARS: Final = 2000
EXAMPLE: Final = 'sum(http_requests_total{job="checkout",code!~"5.."})'


@dataclass(frozen=True)
class CounterQuery:
    """A flow's count: the sum of the increases of every series ``selector`` matches."""

    #: The instant vector selector, as written (metric name and/or matchers).
    selector: str

    def range_query(self, seconds: int) -> str:
        """The selector as a range vector of the last ``seconds``: its raw samples."""
        return f"{self.selector}[{seconds}s]"


def parse_counter_query(text: str) -> CounterQuery:
    """``text`` as a CounterQuery; ValueError saying what form it must take."""
    expression = text.strip()
    if not expression:
        raise ValueError(f"is empty; give a counter selector, e.g. {EXAMPLE}")
    if len(expression) > MAX_CHARS:
        raise ValueError(f"is {len(expression)} characters long; at most {MAX_CHARS}")
    selector = _summed_selector(expression)
    if selector is None:
        selector = expression
    if _selector_end(selector, 0) != len(selector):
        raise ValueError(
            f"{_shown(expression)} is not a counter selector: relops counts events exactly from counters' raw "
            f"samples, so it takes a selector of counters, optionally summed (e.g. {EXAMPLE}), never rate(), "
            "increase() or a ratio"
        )
    return CounterQuery(selector)


def _summed_selector(expression: str) -> str | None:
    """The selector inside ``sum(...)``, ``sum by (...) (...)`` or ``sum(...) by (...)``; None when
    ``expression`` is not a sum."""
    match = _SUM.match(expression)
    if match is None:
        return None
    rest = expression[match.end() :].lstrip()
    grouping = _GROUPING.match(rest)
    if grouping is not None:
        rest = rest[grouping.end() :].lstrip()
    if not rest.startswith("("):
        return None
    inner_end = _closing_parenthesis(rest)
    if inner_end is None:
        return None
    tail = rest[inner_end + 1 :].strip()
    if tail and (grouping is not None or _GROUPING.fullmatch(tail) is None):
        return None
    return rest[1:inner_end].strip()


def _closing_parenthesis(text: str) -> int | None:
    """The index of the parenthesis closing the one at ``text[0]``, skipping quoted strings."""
    depth = 0
    index = 0
    while index < len(text):
        char = text[index]
        if char in "\"'`":
            end = _string_end(text, index)
            if end is None:
                return None
            index = end
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index
        index += 1
    return None


def _selector_end(text: str, start: int) -> int | None:
    """Where the vector selector starting at ``text[start]`` ends; None when it is not one."""
    index = start
    name = _METRIC_NAME.match(text, index)
    if name is not None:
        index = name.end()
    if index < len(text) and text[index] == "{":
        index = _matchers_end(text, index)
        if index is None:
            return None
    elif name is None:
        return None
    return index


def _matchers_end(text: str, start: int) -> int | None:
    """Past the ``}`` of the matcher list opening at ``text[start]``; None when malformed."""
    index = start + 1
    while True:
        index = _skip_spaces(text, index)
        if index < len(text) and text[index] == "}":
            return index + 1
        label = _LABEL_NAME.match(text, index)
        if label is None:
            return None
        index = _skip_spaces(text, label.end())
        operator = _MATCH_OPERATOR.match(text, index)
        if operator is None:
            return None
        index = _skip_spaces(text, operator.end())
        if index >= len(text) or text[index] not in "\"'`":
            return None
        end = _string_end(text, index)
        if end is None:
            return None
        index = _skip_spaces(text, end)
        if index < len(text) and text[index] == ",":
            index += 1
        elif index >= len(text) or text[index] != "}":
            return None


def _string_end(text: str, start: int) -> int | None:
    """Past the closing quote of the string literal opening at ``text[start]``."""
    quote = text[start]
    index = start + 1
    while index < len(text):
        if text[index] == "\\" and quote != "`":
            index += 2
            continue
        if text[index] == quote:
            return index + 1
        index += 1
    return None


def _skip_spaces(text: str, index: int) -> int:
    while index < len(text) and text[index].isspace():
        index += 1
    return index


def _shown(expression: str) -> str:
    return repr(expression if len(expression) <= 80 else expression[:77] + "...")
