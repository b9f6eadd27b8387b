"""OTLP/HTTP on the wire, without a server: requests decoded with opentelemetry-proto's classes
(protobuf, OTLP JSON, gzip), their spans walked into counts, and the answers encoded as the OTLP
specification says (read back with Google's own google.rpc.Status class)."""

from __future__ import annotations

import gzip
import json
import tomllib
import zlib
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from hypothesis import example, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from relops.config import parse_config
from relops.intake import otlp, otlp_schema
from relops.intake.reports import Refused
from relops.slo.span_mapping import SpanMapping, SpanTally, end_minute, verdicts

#: opentelemetry-proto's examples/trace.json (Apache License 2.0), as published: hex ids, the kind
#: as an integer, 64-bit times as strings.
EXAMPLE = """{"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue":
"my.service"}}]}, "scopeSpans": [{"scope": {"name": "my.library", "version": "1.0.0", "attributes": [{"key":
"my.scope.attribute", "value": {"stringValue": "some scope attribute"}}]}, "spans": [{"traceId":
"5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174", "parentSpanId": "EEE19B7EC3C1B173", "name":
"I'm a server span", "startTimeUnixNano": "1544712660000000000", "endTimeUnixNano": "1544712661000000000",
"kind": 2, "attributes": [{"key": "my.span.attr", "value": {"stringValue": "some value"}}]}]}]}]}"""
EXAMPLE_END = datetime(2018, 12, 13, 14, 51, 1, tzinfo=UTC)

CONFIG = """
[[flows]]
name = "example"
objective_percent = 99
[flows.spans]
service = "my.service"
attributes = ['my.span.attr = "some value"']

[[flows]]
name = "checkout"
objective_percent = 99.9
[flows.spans]
service = "checkout-api"
bad_when = ["http.response.status_code >= 500"]
"""
MAPPING = SpanMapping(parse_config(tomllib.loads(CONFIG), "t.toml").flows)


def kv(key: str, value: str | int | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def checkout_request(end: datetime) -> ExportTraceServiceRequest:
    end_ns = int(end.timestamp()) * 1_000_000_000

    def span(code: int, error: bool = False, kind: int = Span.SPAN_KIND_SERVER) -> Span:
        status = Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET)
        return Span(
            name="POST /api/checkout",
            kind=kind,
            end_time_unix_nano=end_ns,
            status=status,
            attributes=[kv("http.response.status_code", code)],
        )

    spans = [span(200), span(201), span(500), span(200, error=True), span(200, kind=Span.SPAN_KIND_CLIENT)]
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource={"attributes": [kv("service.name", "checkout-api")]},
                scope_spans=[ScopeSpans(spans=spans)],
            ),
            ResourceSpans(
                resource={"attributes": [kv("service.name", "billing")]},
                scope_spans=[ScopeSpans(spans=[span(200), span(500)])],
            ),
        ]
    )


def counted(request: ExportTraceServiceRequest, now: datetime) -> SpanTally:
    return otlp.tally_spans(request, MAPPING, SpanTally(now=now, oldest=now - timedelta(days=31)))


def test_a_protobuf_export_is_decoded_and_its_spans_counted_good_and_bad() -> None:
    now = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    body = checkout_request(now).SerializeToString()
    tally = counted(otlp.decode_request(body, "protobuf"), now)
    assert tally.items() == [{"flow": "checkout", "minute": "2026-12-07T10:30:00Z", "good": 2, "bad": 2}]
    assert (tally.spans, tally.counted, tally.unmatched, tally.refused) == (7, 4, 3, 0)


def test_otlp_json_as_the_specification_publishes_it_is_decoded() -> None:
    request = otlp.decode_request(EXAMPLE.encode(), "json")
    tally = counted(request, EXAMPLE_END + timedelta(minutes=1))
    assert tally.items() == [{"flow": "example", "minute": "2018-12-13T14:51:00Z", "good": 1, "bad": 0}]


def test_json_takes_enum_names_and_ignores_unknown_fields() -> None:
    payload = json.loads(EXAMPLE)
    span = payload["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["kind"] = "SPAN_KIND_SERVER"
    span["status"] = {"code": "STATUS_CODE_ERROR"}
    span["someFieldFromTheFuture"] = {"x": 1}
    tally = counted(otlp.decode_request(json.dumps(payload).encode(), "json"), EXAMPLE_END)
    assert tally.items() == [{"flow": "example", "minute": "2018-12-13T14:51:00Z", "good": 0, "bad": 1}]


def test_gzip_is_undone_within_the_limit() -> None:
    body = checkout_request(datetime(2026, 12, 7, tzinfo=UTC)).SerializeToString()
    assert otlp.inflated(gzip.compress(body), "gzip", 1_000_000) == body
    assert otlp.inflated(zlib.compress(body), "deflate", 1_000_000) == body
    assert otlp.inflated(body, "", 10) == body
    with pytest.raises(Refused) as too_big:
        otlp.inflated(gzip.compress(b"\0" * 2_000_000), "gzip", 1_000_000)
    assert (too_big.value.status, too_big.value.field) == (413, "body")
    with pytest.raises(Refused) as not_gzip:
        otlp.inflated(b"not gzip", "gzip", 1_000_000)
    assert not_gzip.value.status == 400
    with pytest.raises(Refused) as other:
        otlp.inflated(body, "br", 1_000_000)
    assert (other.value.status, other.value.field) == (415, "Content-Encoding")


@pytest.mark.parametrize(
    ("body", "encoding"),
    [
        (b"\xff\xff\xff\xff", "protobuf"),
        (b"{not json", "json"),
        (b'{"resourceSpans": 7}', "json"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"endTimeUnixNano": "soon"}]}]}]}', "json"),
    ],
)
def test_a_body_that_is_not_an_export_request_is_400(body: bytes, encoding: otlp.Encoding) -> None:
    with pytest.raises(Refused) as caught:
        otlp.decode_request(body, encoding)
    assert (caught.value.status, caught.value.field) == (400, "body")
    assert "ExportTraceServiceRequest" in caught.value.reason


def test_content_types_pick_the_encoding() -> None:
    assert otlp.encoding_of("application/x-protobuf") == "protobuf"
    assert otlp.encoding_of("Application/JSON; charset=utf-8") == "json"
    assert otlp.encoding_of("text/plain") is None
    assert otlp.encoding_of("") is None


def test_full_success_leaves_partial_success_unset_and_a_partial_one_says_how_many_and_why() -> None:
    full = ExportTraceServiceResponse.FromString(otlp.export_response("protobuf", 0, ""))
    assert not full.HasField("partial_success")
    assert json.loads(otlp.export_response("json", 0, "")) == {}
    partial = ExportTraceServiceResponse.FromString(otlp.export_response("protobuf", 3, "3 of 9 spans refused: x"))
    assert partial.partial_success.rejected_spans == 3
    assert partial.partial_success.error_message == "3 of 9 spans refused: x"
    as_json = json.loads(otlp.export_response("json", 3, "why"))
    assert as_json == {"partialSuccess": {"rejectedSpans": "3", "errorMessage": "why"}}


def test_failures_are_google_rpc_status_messages_in_the_request_encoding() -> None:
    status = status_pb2.Status.FromString(otlp.status_body("protobuf", "key: unknown or revoked report key"))
    assert status.message == "key: unknown or revoked report key"
    from_json = json_format.Parse(otlp.status_body("json", "body: too big"), status_pb2.Status())
    assert from_json.message == "body: too big"


def test_the_digest_names_the_bytes() -> None:
    assert otlp.body_digest(b"a") == otlp.body_digest(b"a") != otlp.body_digest(b"b")
    assert len(otlp.body_digest(b"a")) == 40


def test_the_intake_reads_attributes_as_maps_of_the_same_wire_format() -> None:
    official = checkout_request(datetime(2026, 12, 7, tzinfo=UTC))
    span = official.resource_spans[0].scope_spans[0].spans[0]
    span.attributes.append(kv("http.response.status_code", 504))  # sent twice: the last one holds
    span.events.add(name="exception", time_unix_nano=1)  # fields the intake never reads still parse
    lean = otlp_schema.request_class().FromString(official.SerializeToString())
    read = lean.resource_spans[0].scope_spans[0].spans
    assert len(read) == len(official.resource_spans[0].scope_spans[0].spans)
    assert otlp_schema.any_value(read[0].attributes["http.response.status_code"]).int_value == 504
    assert otlp_schema.any_value(lean.resource_spans[0].resource.attributes["service.name"]).string_value == (
        "checkout-api"
    )
    assert read[0].name == span.name and read[0].end_time_unix_nano == span.end_time_unix_nano
    assert otlp_schema.status_code(read[0].status) == span.status.code
    assert otlp_schema.status_code(b"") == 0  # no status sent: unset


def test_a_span_without_an_attribute_takes_its_resource_s() -> None:
    now = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    request = checkout_request(now)
    resource = request.resource_spans[0]
    resource.resource.attributes.append(kv("http.response.status_code", 500))
    for span in resource.scope_spans[0].spans:
        del span.attributes[:]
    # Every server span now has the resource's 500: bad; the client span still counts for no flow.
    body = request.SerializeToString()
    tally = counted(otlp.decode_request(body, "protobuf"), now)
    assert tally.items() == [{"flow": "checkout", "minute": "2026-12-07T10:30:00Z", "good": 0, "bad": 4}]


def test_an_attribute_that_is_no_scalar_is_as_if_missing() -> None:
    now = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    request = checkout_request(now)
    for span in request.resource_spans[0].scope_spans[0].spans:
        del span.attributes[:]
        span.attributes.append(KeyValue(key="http.response.status_code", value=AnyValue(bytes_value=b"500")))
    tally = counted(otlp.decode_request(request.SerializeToString(), "protobuf"), now)
    # bytes compare as nothing: no 5xx; the one span with status ERROR is still bad.
    assert tally.items() == [{"flow": "checkout", "minute": "2026-12-07T10:30:00Z", "good": 3, "bad": 1}]


def test_a_value_that_is_not_protobuf_is_a_malformed_body() -> None:
    """The intake reads attribute values and statuses as their encodings (relops.intake.otlp_schema)
    and decodes those of each group: one that is not protobuf makes the request 400, as it would
    were it decoded with the rest."""
    lean = otlp_schema.request_class()()
    resource = lean.resource_spans.add()
    resource.resource.attributes["service.name"] = AnyValue(string_value="checkout-api").SerializeToString()
    span = resource.scope_spans.add().spans.add(name="POST /api/checkout", kind=Span.SPAN_KIND_SERVER)
    span.end_time_unix_nano = 1_796_000_000_000_000_000
    span.attributes["http.response.status_code"] = b"\xff\xff\xff"
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(Refused) as caught:
        counted(otlp.decode_request(lean.SerializeToString(), "protobuf"), now)
    assert (caught.value.status, caught.value.field) == (400, "body")
    assert "an attribute's value is not protobuf" in caught.value.reason


SPAN_NAMES = ["POST /api/checkout", "GET /api/cart", "SELECT orders"]
#: Rules reading no attribute, one, two and three (the intake reads each number its own way).
PROPERTY_CONFIG = """
[[flows]]
name = "billing"
objective_percent = 99
[flows.spans]
service = "billing"
names = ["POST /api/checkout", "GET /api/cart"]

[[flows]]
name = "example"
objective_percent = 99
[flows.spans]
service = "my.service"
attributes = ['my.span.attr = "/api/checkout"']

[[flows]]
name = "checkout"
objective_percent = 99.9
[flows.spans]
service = "checkout-api"
names = ["POST /api/checkout"]
attributes = ['url.path = "/api/checkout"']
bad_when = ["http.response.status_code >= 500"]

[[flows]]
name = "cart"
objective_percent = 99
[flows.spans]
service = "checkout-api"
kinds = ["server", "client"]
bad_when = ["http.response.status_code >= 500"]

[[flows]]
name = "search"
objective_percent = 99
[flows.spans]
service = "search"
attributes = ['url.path = "/api/checkout"', "my.span.attr = true"]
bad_when = ["http.response.status_code >= 500"]
"""
PROPERTY_MAPPING = SpanMapping(parse_config(tomllib.loads(PROPERTY_CONFIG), "t.toml").flows)
#: Few values, so that the conditions above hold often enough to tell a wrong reading from a right one.
ATTRIBUTE_VALUES = st.sampled_from(["/api/checkout", 503, True, 200, "500", 500.0, False])


@st.composite
def exports(draw: st.DrawFn) -> ExportTraceServiceRequest:
    base_ns = int(datetime(2026, 12, 7, 10, 0, tzinfo=UTC).timestamp()) * 1_000_000_000
    request = ExportTraceServiceRequest()
    for _ in range(draw(st.integers(1, 3))):
        resource = request.resource_spans.add()
        service = draw(st.sampled_from(["checkout-api", "my.service", "billing", "search", "nobody", None]))
        if service is not None:
            resource.resource.attributes.append(kv("service.name", service))
        for key in draw(
            st.lists(st.sampled_from(["http.response.status_code", "my.span.attr", "url.path"]), max_size=3)
        ):
            resource.resource.attributes.append(KeyValue(key=key, value=_any(draw(ATTRIBUTE_VALUES))))
        for _ in range(draw(st.integers(1, 2))):
            scope = resource.scope_spans.add()
            for _ in range(draw(st.integers(0, 12))):
                span = scope.spans.add(
                    name=draw(st.sampled_from(SPAN_NAMES)),
                    kind=draw(st.sampled_from([2, 5, 3, 1, 0, 4])),
                    end_time_unix_nano=draw(st.sampled_from([base_ns, 0])) + draw(st.integers(0, 4 * 60 * 10**9)),
                )
                span.status.code = draw(st.sampled_from([0, 1, 2]))
                keys = ["http.response.status_code", "my.span.attr", "url.path"]
                for key in draw(st.lists(st.sampled_from(keys), max_size=4)):
                    span.attributes.append(KeyValue(key=key, value=_any(draw(ATTRIBUTE_VALUES))))
    return request


def _any(value: object) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def span_by_span(request: ExportTraceServiceRequest, now: datetime) -> SpanTally:
    """The reference: every span read with opentelemetry-proto's own classes, one at a time, its
    attributes as OTLP defines them (the last of a key sent twice, the resource's when the span has
    none), and its verdict asked of relops.slo.span_mapping alone."""
    tally = SpanTally(now=now, oldest=now - timedelta(days=31))
    for resource_spans in request.resource_spans:
        resource = {kv.key: json_format.MessageToDict(kv.value) for kv in resource_spans.resource.attributes}
        service = resource.get("service.name", {}).get("stringValue", "")
        rules = PROPERTY_MAPPING.rules_for(service)
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                if rules is None:
                    tally.unmatched_spans(1)
                    continue
                own = {kv.key: json_format.MessageToDict(kv.value) for kv in span.attributes}
                attributes = {}
                for name in rules.attributes:
                    value = own.get(name, resource.get(name))
                    if value:
                        ((field, raw),) = value.items()
                        attributes[name] = int(raw) if field == "intValue" else raw
                error = span.status.code == Status.STATUS_CODE_ERROR
                found = verdicts(rules.candidates(span.name), span.kind, error, attributes)
                tally.add(found, end_minute(span.end_time_unix_nano))
    return tally


def inheriting(service: str, resource_values: dict[str, object]) -> ExportTraceServiceRequest:
    """Spans of ``service`` whose resource holds ``resource_values``: one without attributes (it takes
    the resource's), one with its own of each (they hold)."""
    end_ns = int(datetime(2026, 12, 7, 10, 1, tzinfo=UTC).timestamp()) * 1_000_000_000
    resource = ResourceSpans(resource={"attributes": [kv("service.name", service)]})
    resource.resource.attributes.extend(KeyValue(key=k, value=_any(v)) for k, v in resource_values.items())
    scope = resource.scope_spans.add()
    scope.spans.add(name="POST /api/checkout", kind=Span.SPAN_KIND_SERVER, end_time_unix_nano=end_ns)
    own = scope.spans.add(name="POST /api/checkout", kind=Span.SPAN_KIND_SERVER, end_time_unix_nano=end_ns)
    own.attributes.extend(KeyValue(key=k, value=_any("other")) for k in resource_values)
    return ExportTraceServiceRequest(resource_spans=[resource])


@settings(max_examples=300, deadline=None)
@given(exports())
# Rules reading one attribute (my.service), two (checkout-api) and three (search), each held by the
# resource's value alone.
@example(inheriting("my.service", {"my.span.attr": "/api/checkout"}))
@example(inheriting("checkout-api", {"url.path": "/api/checkout", "http.response.status_code": 503}))
@example(inheriting("search", {"url.path": "/api/checkout", "my.span.attr": True, "http.response.status_code": 503}))
def test_grouped_counting_equals_counting_span_by_span(request: ExportTraceServiceRequest) -> None:
    now = datetime(2026, 12, 7, 10, 3, tzinfo=UTC)
    fast = otlp.tally_spans(
        otlp.decode_request(request.SerializeToString(), "protobuf"),
        PROPERTY_MAPPING,
        SpanTally(now=now, oldest=now - timedelta(days=31)),
    )
    reference = span_by_span(request, now)
    assert fast.items() == reference.items()
    assert (fast.spans, fast.counted, fast.unmatched, fast.refused) == (
        reference.spans,
        reference.counted,
        reference.unmatched,
        reference.refused,
    )
    assert fast.reasons == reference.reasons
