"""Sloth's and OpenSLO's Prometheus queries as relops counter queries. Pure.

Their queries are rates over a window Sloth fills in (``sum(rate(X[{{.window}}]))``); relops counts
each minute's exact increase from the raw samples of the counters X selects, so what it keeps of
such a query is X. ``sum(rate(X[r]))``, ``sum(increase(X[r]))``, ``rate(X[r])`` and
``increase(X[r])`` of a counter selector X, for any range r (``5m``, ``{{.window}}``), become
``sum(X)``; a query relops already takes (a selector, optionally summed) is kept as written, so
what ``relops slo export`` writes comes back unchanged. Anything else is refused: relops cannot
count it exactly.
"""

from __future__ import annotations

import re

from relops.config.counter_query import EXAMPLE, parse_counter_query

_SUM_OPEN = re.compile(r"sum\s*\(", re.ASCII)
#: rate(X[range]) or increase(X[range]): the range is the last [...] before the closing parenthesis.
_RATE = re.compile(r"(?:rate|increase)\s*\((?P<selector>.*)\[(?P<range>[^\[\]]+)\]\s*\)", re.DOTALL | re.ASCII)


def counter_query(text: str) -> str:
    """The relops query for ``text``; ValueError saying why relops cannot count it."""
    query = text.strip()
    rated = _rated_selector(query)
    if rated is not None:
        return f"sum({rated})"
    try:
        parse_counter_query(query)
    except ValueError:
        shown = query if len(query) <= 80 else query[:77] + "..."
        raise ValueError(
            f"{shown!r} is not a count relops can take exactly: it takes a counter selector X, optionally "
            "summed (e.g. " + EXAMPLE + "), or sum(rate(X[...])), sum(increase(X[...])), rate(X[...]), "
            "increase(X[...]) of one (read as sum(X)); never a ratio, a difference or another function"
        ) from None
    return query


def _rated_selector(query: str) -> str | None:
    """X when ``query`` is a rate or increase of a counter selector X, optionally summed."""
    inner = query
    opening = _SUM_OPEN.match(query)
    if opening is not None and query.endswith(")"):
        inner = query[opening.end() : -1].strip()
    match = _RATE.fullmatch(inner)
    if match is None:
        return None
    selector = match.group("selector").strip()
    try:
        parsed = parse_counter_query(selector)
    except ValueError:
        return None
    # rate(sum(X)[5m:]) and the like are subqueries, not a counter's rate.
    return selector if parsed.selector == selector else None
