"""OpenTelemetry spans as flow outcomes, without I/O: the [flows.spans] rules as the config checks
them, which flows a span counts for and whether it is bad, and spans tallied into minute counts."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relops.config import parse_config
from relops.config.span_rules import parse_condition
from relops.errors import ConfigError, InputRejected
from relops.slo.span_mapping import SpanMapping, SpanTally, end_minute
from relops.slo.span_mapping import verdicts as verdicts_of

NOW = datetime(2026, 12, 7, 10, 30, 15, tzinfo=UTC)
OLDEST = datetime(2026, 11, 1, tzinfo=UTC)
SERVER, CLIENT, CONSUMER, INTERNAL = 2, 3, 5, 1

CONFIG = """
[[flows]]
name = "checkout"
objective_percent = 99.9
[flows.spans]
service = "checkout-api"
names = ["POST /api/checkout"]
attributes = ['http.route = "/api/checkout"']
bad_when = ["http.response.status_code >= 500"]

[[flows]]
name = "search"
objective_percent = 99
[flows.spans]
service = "checkout-api"
attributes = ['http.route =~ "/api/search.*"', "http.request.method != DELETE"]
bad_when = ["http.response.status_code >= 500", "app.degraded = true"]

[[flows]]
name = "orders-consumer"
objective_percent = 99.5
[flows.spans]
service = "orders-worker"
kinds = ["consumer"]

[[flows]]
name = "pushed"
objective_percent = 99
"""


def mapping(text: str = CONFIG) -> SpanMapping:
    return SpanMapping(parse_config(tomllib.loads(text), "t.toml").flows)


def ns(at: datetime) -> int:
    return int(at.timestamp()) * 1_000_000_000


def verdicts(
    m: SpanMapping, service: str, name: str, kind: int = SERVER, error: bool = False, **attributes: Any
) -> list[tuple[str, bool]]:
    attrs = {k.replace("__", "."): v for k, v in attributes.items()}
    rules = m.rules_for(service)
    return verdicts_of(rules.candidates(name) if rules else (), kind, error, attrs)


def test_a_span_counts_for_the_flow_whose_service_name_kind_and_attributes_it_meets() -> None:
    m = mapping()
    ok = {"http__route": "/api/checkout", "http__response__status_code": 200}
    assert verdicts(m, "checkout-api", "POST /api/checkout", **ok) == [("checkout", False)]
    assert verdicts(m, "other-api", "POST /api/checkout", **ok) == []
    assert verdicts(m, "checkout-api", "GET /api/checkout", **ok) == []
    assert verdicts(m, "checkout-api", "POST /api/checkout", kind=CLIENT, **ok) == []
    assert verdicts(m, "checkout-api", "POST /api/checkout", http__route="/api/cart") == []


def test_a_span_is_bad_when_its_status_is_error_or_a_bad_when_condition_holds() -> None:
    m = mapping()
    route = {"http__route": "/api/checkout"}
    assert verdicts(m, "checkout-api", "POST /api/checkout", error=True, **route) == [("checkout", True)]
    assert verdicts(m, "checkout-api", "POST /api/checkout", http__response__status_code=503, **route) == [
        ("checkout", True)
    ]
    assert verdicts(m, "checkout-api", "POST /api/checkout", http__response__status_code=499, **route) == [
        ("checkout", False)
    ]
    # A status code sent as text is no number: the numeric rule does not hold (nor does it crash).
    assert verdicts(m, "checkout-api", "POST /api/checkout", http__response__status_code="503", **route) == [
        ("checkout", False)
    ]
    assert verdicts(m, "checkout-api", "GET /api/search", http__route="/api/search/q", app__degraded=True) == [
        ("search", True)
    ]


def test_text_conditions_compare_as_label_matchers_do() -> None:
    m = mapping()
    # A missing attribute is the empty value: != holds, =~ does not.
    assert verdicts(m, "checkout-api", "GET /api/search", http__route="/api/search") == [("search", False)]
    assert verdicts(m, "checkout-api", "DELETE", http__route="/api/search", http__request__method="DELETE") == []
    assert verdicts(m, "checkout-api", "GET", http__route="/x/api/search") == []  # anchored


def test_default_kinds_are_server_and_consumer_and_any_name_when_names_are_empty() -> None:
    m = mapping()
    assert verdicts(m, "orders-worker", "orders process", kind=CONSUMER) == [("orders-consumer", False)]
    assert verdicts(m, "orders-worker", "orders process", kind=SERVER) == []
    m = mapping('[[flows]]\nname = "a"\nobjective_percent = 99\n[flows.spans]\nservice = "s"\n')
    assert verdicts(m, "s", "anything", kind=SERVER) == [("a", False)]
    assert verdicts(m, "s", "anything", kind=CONSUMER) == [("a", False)]
    assert verdicts(m, "s", "anything", kind=INTERNAL) == []


def test_a_service_s_rules_name_the_attributes_they_read_and_the_span_names_they_take() -> None:
    rules = mapping().rules_for("checkout-api")
    assert rules is not None
    assert rules.attributes == ("http.route", "http.response.status_code", "http.request.method", "app.degraded")
    assert [r.flow for r in rules.candidates("POST /api/checkout")] == ["checkout", "search"]
    assert [r.flow for r in rules.candidates("GET /api/search")] == ["search"]
    worker = mapping().rules_for("orders-worker")
    assert worker is not None and worker.attributes == ()
    assert mapping().rules_for("billing") is None
    only_named = mapping('[[flows]]\nname = "a"\nobjective_percent = 99\n[flows.spans]\nservice = "s"\nnames = ["x"]\n')
    rules = only_named.rules_for("s")
    assert rules is not None and rules.candidates("y") == ()


def test_a_span_may_count_for_several_flows() -> None:
    m = mapping(
        CONFIG.replace('names = ["POST /api/checkout"]\n', "")
        + '[[flows]]\nname = "all-api"\nobjective_percent = 99\n[flows.spans]\nservice = "checkout-api"\n'
    )
    found = verdicts(m, "checkout-api", "POST /api/checkout", http__route="/api/checkout")
    assert found == [("checkout", False), ("all-api", False)]


def tally(**overrides: Any) -> SpanTally:
    return SpanTally(now=NOW, oldest=OLDEST, **overrides)


def test_spans_with_the_same_facts_are_added_at_once() -> None:
    t = tally()
    t.add([("checkout", True), ("search", False)], end_minute(ns(NOW)), 40)
    t.add([], end_minute(ns(NOW)), 7)
    t.add([("checkout", False)], end_minute(0), 3)
    assert t.items() == [
        {"flow": "checkout", "minute": "2026-12-07T10:30:00Z", "good": 0, "bad": 40},
        {"flow": "search", "minute": "2026-12-07T10:30:00Z", "good": 40, "bad": 0},
    ]
    assert (t.spans, t.counted, t.unmatched, t.refused) == (50, 40, 7, 3)
    assert t.error_message() == "3 of 50 spans refused: 3 x a span without end_time_unix_nano cannot count"


def test_spans_are_tallied_per_flow_and_minute_of_their_end() -> None:
    t = tally()
    minute = datetime(2026, 12, 7, 10, 29, tzinfo=UTC)
    for second, bad in ((0, False), (59, True), (30, False)):
        t.add([("checkout", bad)], end_minute(ns(minute + timedelta(seconds=second)) + 999))
    t.add([("checkout", False)], end_minute(ns(minute + timedelta(minutes=1))))
    t.add([("search", True)], end_minute(ns(minute)))
    t.add([], end_minute(ns(minute)))
    t.unmatched_spans(7)
    assert t.items() == [
        {"flow": "checkout", "minute": "2026-12-07T10:29:00Z", "good": 2, "bad": 1},
        {"flow": "checkout", "minute": "2026-12-07T10:30:00Z", "good": 1, "bad": 0},
        {"flow": "search", "minute": "2026-12-07T10:29:00Z", "good": 0, "bad": 1},
    ]
    assert (t.spans, t.counted, t.unmatched, t.refused) == (13, 5, 8, 0)
    assert t.error_message() == ""


def test_spans_that_cannot_count_are_refused_with_the_reason() -> None:
    t = tally()
    t.add([("checkout", False)], end_minute(0))
    t.add([("checkout", False)], end_minute(ns(OLDEST) - 1))
    t.add([("checkout", False)], end_minute(ns(NOW + timedelta(minutes=6))))
    t.add([("checkout", False)], end_minute(ns(NOW + timedelta(minutes=4))))
    assert (t.spans, t.counted, t.refused) == (4, 1, 3)
    message = t.error_message()
    assert message.startswith("3 of 4 spans refused: ")
    assert "without end_time_unix_nano" in message
    assert "before the longest SLO period" in message
    assert "more than 5 minutes from now" in message


def test_a_key_limited_to_some_flows_has_the_spans_of_others_refused() -> None:
    t = tally(allowed=frozenset({"checkout"}), key_name="checkout-otel")
    at = end_minute(ns(NOW))
    t.add([("search", False)], at)
    t.add([("search", False), ("checkout", True)], at)
    assert [(i["flow"], i["good"], i["bad"]) for i in t.items()] == [("checkout", 0, 1)]
    assert t.refused == 1
    assert "1 x key 'checkout-otel' may not report flow 'search'" in t.error_message()


def test_batches_are_named_by_the_export_so_a_resend_makes_the_same_ids() -> None:
    def batches() -> list[dict[str, object]]:
        t = tally()
        for offset in range(6000):  # more items than one batch holds: 6000 distinct minutes
            t.add([("checkout", False)], end_minute(ns(datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=offset))))
        return t.batches("otlp-abc")

    first = batches()
    assert [b["batch_id"] for b in first] == ["otlp-abc-0", "otlp-abc-1"]
    assert [len(b["counts"]) for b in first] == [5000, 1000]  # type: ignore[arg-type]
    assert batches() == first
    assert tally().batches("otlp-abc") == []


@pytest.mark.parametrize(
    ("text", "attribute", "op"),
    [
        ('http.route = "/api/checkout"', "http.route", "="),
        ("http.route=/api/checkout", "http.route", "="),
        ('rpc.method =~ "Get.*"', "rpc.method", "=~"),
        ("http.response.status_code >= 500", "http.response.status_code", ">="),
        ("duration_ms < 2.5e3", "duration_ms", "<"),
        ("k8s.pod-name != x", "k8s.pod-name", "!="),
    ],
)
def test_conditions_parse(text: str, attribute: str, op: str) -> None:
    condition = parse_condition(text)
    assert (condition.attribute, condition.op) == (attribute, op)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("http.route", "is not a condition"),
        ("http.response.status_code >= high", "compares numbers"),
        ("http.response.status_code >= nan", "compares numbers"),
        ('http.route =~ "(?=x)"', "lookahead"),
        ("http.route =", "needs a value"),
        ("9lives = x", "is not an attribute name"),
    ],
)
def test_bad_conditions_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(InputRejected, match=reason):
        parse_condition(text)


@pytest.mark.parametrize(
    ("spans", "where", "reason"),
    [
        ("names = []", "field 'spans.service'", "Field required"),
        ('service = "s"\nkinds = ["server", "rpc"]', "field 'spans.kinds.1'", "Input should be"),
        ('service = "s"\nkinds = []', "field 'spans.kinds'", "at least 1"),
        ('service = "s"\nattributes = ["http.route"]', "field 'spans.attributes'", "is not a condition"),
        ('service = "s"\nbad_when = ["code >= x"]', "field 'spans.bad_when'", "compares numbers"),
        ('service = "s"\nbad = ["code >= 1"]', "field 'spans.bad'", "Extra inputs"),
        ('service = "s"\nnames = [""]', "field 'spans.names'", "printable characters"),
    ],
)
def test_the_config_refuses_bad_span_rules_naming_flow_and_field(spans: str, where: str, reason: str) -> None:
    text = f'[[flows]]\nname = "checkout"\nobjective_percent = 99\n[flows.spans]\n{spans}\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(text), "t.toml")
    message = str(caught.value)
    assert f"flow 'checkout' {where}" in message
    assert reason in message


def test_a_flow_takes_its_counts_from_spans_or_from_prometheus_not_both() -> None:
    text = (
        '[[flows]]\nname = "checkout"\nobjective_percent = 99\n'
        'prometheus = { url_env = "PROMETHEUS_URL", good = "sum(ok_total)", total = "sum(all_total)" }\n'
        '[flows.spans]\nservice = "checkout-api"\n'
    )
    with pytest.raises(ConfigError, match=r"flow 'checkout': takes its counts from Prometheus .* and from spans"):
        parse_config(tomllib.loads(text), "t.toml")
