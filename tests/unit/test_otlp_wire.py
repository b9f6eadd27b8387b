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
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from relops.config import parse_config
from relops.intake import otlp, otlp_schema
from relops.intake.reports import Refused
from relops.slo.span_mapping import SpanMapping, SpanTally

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
    assert read[0].attributes["http.response.status_code"].int_value == 504
    assert lean.resource_spans[0].resource.attributes["service.name"].string_value == "checkout-api"
    assert read[0].name == span.name and read[0].end_time_unix_nano == span.end_time_unix_nano


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
