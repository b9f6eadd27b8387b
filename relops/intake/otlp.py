"""OTLP/HTTP traces (``POST /v1/traces``) on the wire: the request decoded with OpenTelemetry's own
protobuf classes (opentelemetry-proto), its spans walked into a SpanTally (relops.slo.span_mapping
decides what each counts for), and the answers encoded as the OTLP specification says.

Followed from the OTLP specification (opentelemetry-proto, docs/specification.md, "OTLP/HTTP"):

- binary protobuf (``application/x-protobuf``) and JSON (``application/json``), the response in the
  request's encoding; JSON per OTLP's mapping: lowerCamelCase keys, unknown fields ignored, enums as
  integers (names are taken too), 64-bit integers as numbers or strings; trace and span ids are hex
  there and protobuf's JSON reader takes them for base64, which does not matter here: no id is read;
- ``Content-Encoding: gzip`` (and ``deflate``), with the size limit applied after decompression too (413);
- success is 200 with an ``ExportTraceServiceResponse`` whose ``partial_success`` is left unset;
  spans refused from an accepted request are 200 with ``partial_success.rejected_spans`` and an
  English ``error_message``;
- a failure's body is a ``google.rpc.Status`` with its ``message``: 400 for a body that cannot be
  decoded (never retried), 429 and 503 with ``Retry-After`` (retried).
"""

from __future__ import annotations

import functools
import hashlib
import zlib
from collections.abc import Callable
from typing import Any, Final, Literal

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from relops.compression import TooLarge, inflate
from relops.config.span_rules import AttributeValue
from relops.intake.reports import Refused
from relops.slo.span_mapping import STATUS_CODE_ERROR, SpanMapping, SpanTally

Encoding = Literal["protobuf", "json"]
PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
CONTENT_TYPES: Final[dict[str, Encoding]] = {PROTOBUF: "protobuf", JSON: "json"}
MEDIA_TYPES: Final[dict[Encoding, str]] = {"protobuf": PROTOBUF, "json": JSON}
#: The resource attribute that names a span's service (OpenTelemetry's semantic conventions).
SERVICE_NAME: Final = "service.name"


def encoding_of(content_type: str) -> Encoding | None:
    """The request's encoding by its Content-Type (parameters such as charset ignored); None when
    it is neither of OTLP's."""
    return CONTENT_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def decode_request(body: bytes, encoding: Encoding) -> ExportTraceServiceRequest:
    """The export request in ``body`` (inflated), or Refused (400) when it is not one."""
    request = ExportTraceServiceRequest()
    try:
        if encoding == "protobuf":
            request.ParseFromString(body)
        else:
            json_format.Parse(body, request, ignore_unknown_fields=True)
    except (DecodeError, json_format.ParseError, ValueError, RecursionError) as exc:
        kind = "a protobuf" if encoding == "protobuf" else "an OTLP JSON"
        raise Refused(400, "body", f"is not {kind} ExportTraceServiceRequest ({str(exc)[:160]})") from None
    return request


def inflated(body: bytes, content_encoding: str, limit: int) -> bytes:
    """``body`` inflated when ``content_encoding`` says gzip or deflate, or Refused: 415 for another
    content encoding, 413 past ``limit`` bytes inflated (OTLP: the limit holds after decompression), 400
    for data that is not gzip."""
    coding = content_encoding.strip().lower()
    if coding in ("", "identity"):
        return body
    wbits = _WBITS.get(coding)
    if wbits is None:
        raise Refused(415, "Content-Encoding", f"{coding[:40]!r} is not supported: send gzip, deflate or nothing")
    try:
        return inflate(body, lambda: zlib.decompressobj(wbits=wbits), limit, streams=coding == "gzip")
    except TooLarge:
        raise Refused(413, "body", f"is more than {limit} bytes once decompressed") from None
    except (zlib.error, EOFError) as exc:
        raise Refused(400, "body", f"is not {coding} data ({str(exc)[:120]})") from None


#: zlib's window bits for each content encoding: gzip (OTLP's), and deflate (zlib's format, as
#: HTTP's deflate is and as OpenTelemetry's Python exporter sends it when told to).
_WBITS: Final = {"gzip": 31, "deflate": 15}


def body_digest(body: bytes) -> str:
    """What names the spans of one export whoever sends it: the bytes carry the spans' random ids, so
    the same bytes again are the same spans again (an exporter's retry after a lost answer)."""
    return hashlib.sha256(body).hexdigest()[:40]


def tally_spans(request: ExportTraceServiceRequest, mapping: SpanMapping, tally: SpanTally) -> SpanTally:
    """Every span of ``request`` into ``tally``: a resource whose service no flow takes is counted
    as unmatched without looking at its spans (most of a busy service's spans are such)."""
    for resource_spans in request.resource_spans:
        resource = resource_spans.resource.attributes
        rules = mapping.rules_for(_service(resource))
        if not rules:
            tally.unmatched_spans(sum(len(scope.spans) for scope in resource_spans.scope_spans))
            continue
        resource_values = _ResourceValues(resource)
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                attributes = functools.partial(resource_values.under, span.attributes)
                error = span.status.code == STATUS_CODE_ERROR
                tally.add(mapping.verdicts(rules, span.name, span.kind, error, attributes), span.end_time_unix_nano)
    return tally


class _ResourceValues:
    """A resource's attribute values, converted once, when a rule first reads a span's attributes."""

    def __init__(self, pairs: Any) -> None:
        self._pairs = pairs
        self._values: dict[str, AttributeValue] | None = None

    def under(self, span_pairs: Any) -> dict[str, AttributeValue]:
        """A span's attributes over its resource's: the span's win where both have one."""
        if self._values is None:
            self._values = attribute_values(self._pairs)
        return {**self._values, **attribute_values(span_pairs)}


def _service(attributes: Any) -> str:
    for pair in attributes:
        if pair.key == SERVICE_NAME:
            return pair.value.string_value
    return ""


def attribute_values(pairs: Any) -> dict[str, AttributeValue]:
    """OTLP KeyValues as plain values: strings, booleans, integers and doubles (arrays, maps and
    bytes are left out: no condition compares them)."""
    values: dict[str, AttributeValue] = {}
    for pair in pairs:
        kind = pair.value.WhichOneof("value")
        if kind in _SCALARS:
            values[pair.key] = getattr(pair.value, kind)
    return values


_SCALARS = frozenset({"string_value", "bool_value", "int_value", "double_value"})


def export_response(encoding: Encoding, rejected_spans: int, error_message: str) -> bytes:
    """200's body: ``partial_success`` set only when spans were refused (OTLP: unset on full success)."""
    response = ExportTraceServiceResponse()
    if rejected_spans:
        response.partial_success.CopyFrom(
            ExportTracePartialSuccess(rejected_spans=rejected_spans, error_message=error_message)
        )
    return _encoded(response, encoding)


def status_body(encoding: Encoding, message: str) -> bytes:
    """A failure's body: a google.rpc.Status carrying ``message`` (OTLP leaves ``code`` out)."""
    return _encoded(_STATUS(message=message), encoding)


def _encoded(message: Message, encoding: Encoding) -> bytes:
    if encoding == "protobuf":
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()


def _status_class() -> Callable[..., Message]:
    """google.rpc.Status's two fields OTLP uses, declared to protobuf in a pool of their own (the
    googleapis-common-protos package would be a dependency for one message; a separate pool cannot
    clash with it where both are loaded)."""
    file = descriptor_pb2.FileDescriptorProto(name="relops/otlp/status.proto", package="google.rpc", syntax="proto3")
    status = file.message_type.add(name="Status")
    optional = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    status.field.add(name="code", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32, label=optional)
    status.field.add(name="message", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING, label=optional)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("google.rpc.Status"))


_STATUS = _status_class()
