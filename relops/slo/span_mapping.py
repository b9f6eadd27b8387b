"""OpenTelemetry spans as flow outcomes: which flows a span counts for and whether it is bad
(``SpanMapping``, from the flows' ``[flows.spans]`` rules), and spans tallied into per-flow,
per-minute good and bad counts (``SpanTally``). Pure: no I/O, no protobuf; the intake walks the
decoded request and hands each span's facts here.

A span counts in the minute it ended (``end_time_unix_nano``): when its outcome was known, as a
service records an outcome when its request ends. It is bad when its status is ERROR or any of the
flow's ``bad_when`` conditions holds; otherwise good. A span meeting no flow's rules is counted as
unmatched and dropped; a span relops cannot count (no end time, too old, from the future, or for a
flow its key may not report) is refused, and the sender is told how many and why.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from relops_client.names import MAX_ITEMS_PER_BATCH

from relops.config import FlowConfig
from relops.config.span_rules import SPAN_KINDS, AttributeValue, Condition
from relops.slo.outcome_batch import MAX_FUTURE_SKEW

#: OTLP's Status.StatusCode for an error (opentelemetry/proto/trace/v1/trace.proto: STATUS_CODE_ERROR).
STATUS_CODE_ERROR = 2
NANOS_PER_MINUTE = 60_000_000_000
#: The minute of a span without an end time (OTLP's zero): it cannot count.
NO_END = -1
#: Refusal reasons quoted in the answer's error message, at most (all are counted).
REASONS_SHOWN = 5

Attributes = Mapping[str, AttributeValue]


@dataclass(frozen=True, slots=True)
class SpanRule:
    """One flow's [flows.spans], ready to match."""

    flow: str
    #: Empty: any name.
    names: frozenset[str]
    #: OTLP SpanKind numbers.
    kinds: frozenset[int]
    conditions: tuple[Condition, ...]
    bad_when: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class ServiceRules:
    """The rules of the flows that take one service's spans, indexed for the request path: a span's
    name picks the few rules that can take it, and only the attributes some rule reads are read."""

    #: Span name → the rules naming it and the rules for any name, in config order.
    by_name: Mapping[str, tuple[SpanRule, ...]]
    #: The rules for any name (what a name no rule names gets).
    any_name: tuple[SpanRule, ...]
    #: Every attribute a condition of these rules reads, each once, in a fixed order.
    attributes: tuple[str, ...]

    @classmethod
    def of(cls, rules: list[SpanRule]) -> ServiceRules:
        any_name = tuple(rule for rule in rules if not rule.names)
        named = {name for rule in rules for name in rule.names}
        by_name = {name: tuple(rule for rule in rules if not rule.names or name in rule.names) for name in named}
        read = dict.fromkeys(c.attribute for rule in rules for c in (*rule.conditions, *rule.bad_when))
        return cls(by_name, any_name, tuple(read))

    def candidates(self, name: str) -> tuple[SpanRule, ...]:
        """The rules a span of this name may meet; () when none (most spans of a service)."""
        return self.by_name.get(name, self.any_name)


class SpanMapping:
    """Every flow's span rules by service, built once per config."""

    def __init__(self, flows: Iterable[FlowConfig]) -> None:
        by_service: dict[str, list[SpanRule]] = {}
        for flow in flows:
            rules = flow.spans
            if rules is None:
                continue
            by_service.setdefault(rules.service, []).append(
                SpanRule(
                    flow=flow.name,
                    names=frozenset(rules.names),
                    kinds=frozenset(SPAN_KINDS.index(kind) for kind in rules.kinds),
                    conditions=rules.conditions(),
                    bad_when=rules.bad_conditions(),
                )
            )
        self._by_service = {service: ServiceRules.of(rules) for service, rules in by_service.items()}

    def rules_for(self, service: str) -> ServiceRules | None:
        """The rules of the flows that take spans from ``service``; None when no flow does (then none
        of its spans need to be looked at)."""
        return self._by_service.get(service)


def end_minute(end_unix_nano: int) -> int:
    """The minute (Unix minutes) a span ended in, which it counts in; NO_END without an end time."""
    return end_unix_nano // NANOS_PER_MINUTE if end_unix_nano > 0 else NO_END


def verdicts(rules: tuple[SpanRule, ...], kind: int, error: bool, attributes: Attributes) -> list[tuple[str, bool]]:
    """(flow, bad) for each flow among ``rules`` (a ServiceRules' candidates for the span's name) the
    span counts for. ``attributes`` holds at least those the rules read (ServiceRules.attributes)."""
    found: list[tuple[str, bool]] = []
    for rule in rules:
        if kind not in rule.kinds:
            continue
        if rule.conditions and not all(c.holds(attributes) for c in rule.conditions):
            continue
        found.append((rule.flow, error or any(c.holds(attributes) for c in rule.bad_when)))
    return found


@dataclass
class SpanTally:
    """One request's spans, counted per flow and minute; what could not count, counted with why.

    ``allowed`` (a key limited to some flows) refuses a span for the flows outside it; a span counts
    for the flows it may, and is refused when it may count for none."""

    now: datetime
    #: The oldest minute a count may still land in (relops.slo.retention.oldest_countable).
    oldest: datetime
    allowed: Collection[str] | None = None
    key_name: str = ""
    #: (flow, minute's start as Unix seconds) → [good, bad].
    counts: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    spans: int = 0
    counted: int = 0
    unmatched: int = 0
    refused: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._oldest_minute = int(self.oldest.timestamp()) // 60
        # A span ending up to MAX_FUTURE_SKEW ahead still counts, as an outcome's minute may: its
        # minute may start no later than that.
        self._newest_minute = int((self.now + MAX_FUTURE_SKEW).timestamp()) // 60

    def unmatched_spans(self, count: int) -> None:
        """Spans no flow takes (their service has no rules, or none held)."""
        self.spans += count
        self.unmatched += count

    def add(self, verdicts: list[tuple[str, bool]], minute: int, count: int = 1) -> None:
        """``count`` spans with the same verdicts (``verdicts()``) that ended in ``minute``
        (``end_minute()``)."""
        self.spans += count
        if not verdicts:
            self.unmatched += count
            return
        reason = self._time_refusal(minute)
        if reason is None and self.allowed is not None:
            kept = [verdict for verdict in verdicts if verdict[0] in self.allowed]
            if not kept:
                reason = f"key {self.key_name!r} may not report flow {verdicts[0][0]!r}"
            verdicts = kept
        if reason is not None:
            self.refused += count
            self.reasons[reason] += count
            return
        for flow, bad in verdicts:
            slot = self.counts.get((flow, minute * 60))
            if slot is None:
                slot = self.counts[(flow, minute * 60)] = [0, 0]
            slot[bad] += count
        self.counted += count

    def _time_refusal(self, minute: int) -> str | None:
        if minute == NO_END:
            return "a span without end_time_unix_nano cannot count"
        if minute < self._oldest_minute:
            return "a span that ended before the longest SLO period cannot count"
        if minute > self._newest_minute:
            ahead = _minutes(MAX_FUTURE_SKEW)
            return f"a span that ends more than {ahead} minutes from now cannot count (is the sender's clock right?)"
        return None

    def items(self) -> list[dict[str, object]]:
        """The counts as relops.record_flow_outcomes items, in a stable order (flow, minute)."""
        return [
            {"flow": flow, "minute": _minute_text(minute), "good": good, "bad": bad}
            for (flow, minute), (good, bad) in sorted(self.counts.items())
        ]

    def batches(self, batch_id: str) -> list[dict[str, object]]:
        """The counts as relops.record_flow_outcomes batches of at most MAX_ITEMS_PER_BATCH items,
        named ``batch_id`` and their part: the same spans sent again make the same batch ids, and the
        workers count a batch id once (ops_ingested_batches)."""
        items = self.items()
        return [
            {"batch_id": f"{batch_id}-{part}", "counts": items[start : start + MAX_ITEMS_PER_BATCH]}
            for part, start in enumerate(range(0, len(items), MAX_ITEMS_PER_BATCH))
        ]

    def error_message(self) -> str:
        """What the refused spans were refused for, most common first, for OTLP's partial_success."""
        if not self.refused:
            return ""
        shown = [f"{count} x {reason}" for reason, count in self.reasons.most_common(REASONS_SHOWN)]
        more = len(self.reasons) - len(shown)
        tail = f"; and {more} more reasons" if more > 0 else ""
        return f"{self.refused} of {self.spans} spans refused: " + "; ".join(shown) + tail


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


@functools.lru_cache(maxsize=1024)
def _minute_text(unix_s: int) -> str:
    # Cached: every export's items name the same few minutes, for many flows.
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%dT%H:%M:00Z")
