"""OTLP/HTTP traces (``POST /v1/traces``) on the wire: the request decoded with OpenTelemetry's own
protobuf definitions (opentelemetry-proto; relops.intake.otlp_schema reads attributes as maps), its
spans walked into a SpanTally (relops.slo.span_mapping decides what each counts for), and the
answers encoded as the OTLP specification says.

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

import hashlib
import zlib
from collections.abc import Callable
from typing import Any, Final, Literal, TypeVar

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from relops.compression import TooLarge, inflate
from relops.config.span_rules import AttributeValue
from relops.intake import otlp_schema
from relops.intake.reports import Refused
from relops.slo.span_mapping import (
    NANOS_PER_MINUTE,
    NO_END,
    STATUS_CODE_ERROR,
    ServiceRules,
    SpanMapping,
    SpanTally,
    verdicts,
)

Encoding = Literal["protobuf", "json"]
PROTOBUF: Final = "application/x-protobuf"
JSON: Final = "application/json"
CONTENT_TYPES: Final[dict[str, Encoding]] = {PROTOBUF: "protobuf", JSON: "json"}
MEDIA_TYPES: Final[dict[Encoding, str]] = {"protobuf": PROTOBUF, "json": JSON}
#: The resource attribute that names a span's service (OpenTelemetry's semantic conventions).
SERVICE_NAME: Final = "service.name"
T = TypeVar("T")


def encoding_of(content_type: str) -> Encoding | None:
    """The request's encoding by its Content-Type (parameters such as charset ignored); None when
    it is neither of OTLP's."""
    return CONTENT_TYPES.get(content_type.split(";", 1)[0].strip().lower())


def decode_request(body: bytes, encoding: Encoding) -> Any:
    """The export request in ``body`` (inflated), as relops.intake.otlp_schema reads it (attributes
    as maps), or Refused (400) when it is not one. JSON is read with opentelemetry-proto's class
    (OTLP's JSON writes attributes as lists) and handed over in binary, once."""
    try:
        if encoding == "protobuf":
            return otlp_schema.request_class().FromString(body)
        official = ExportTraceServiceRequest()
        json_format.Parse(body, official, ignore_unknown_fields=True)
        return otlp_schema.request_class().FromString(official.SerializeToString())
    except (DecodeError, json_format.ParseError, ValueError, RecursionError) as exc:
        kind = "a protobuf" if encoding == "protobuf" else "an OTLP JSON"
        raise Refused(400, "body", f"is not {kind} ExportTraceServiceRequest ({str(exc)[:160]})") from None


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


def tally_spans(request: Any, mapping: SpanMapping, tally: SpanTally) -> SpanTally:
    """Every span of ``request`` (decode_request's) into ``tally``. This runs for every span of every
    export, so it does the least each span needs: a resource whose service no flow takes is counted
    as unmatched without looking at its spans, a span whose name no rule can take costs one look-up,
    and the others are grouped by what decides their verdict (name, kind, status, minute, the encoded
    values of the attributes the rules read: relops.intake.otlp_schema), so values are decoded and the
    rules run once per group, not once per span.

    Refused (400) when a value it decodes is not protobuf: the body is malformed, as a whole request
    that does not decode is."""
    for resource_spans in request.resource_spans:
        resource = resource_spans.resource.attributes
        service = _scalar(resource.get(SERVICE_NAME), {})
        rules = mapping.rules_for(service if isinstance(service, str) else "")
        if rules is None:
            tally.unmatched_spans(sum(len(scope.spans) for scope in resource_spans.scope_spans))
            continue
        read = rules.attributes
        # The resource's value of each attribute a rule reads: what a span without its own one takes.
        values_of = _values_reader(read, [resource.get(name) for name in read])
        # A name no rule takes is unmatched; with a rule for any name, every name is taken.
        named, any_name = rules.by_name, bool(rules.any_name)
        groups: dict[tuple[Any, ...], int] = {}
        unmatched = 0
        # The loop body is what every span costs: each field read once, the group counted in a plain dict.
        for scope in resource_spans.scope_spans:
            for span in scope.spans:
                name = span.name
                if not any_name and name not in named:
                    unmatched += 1
                    continue
                end = span.end_time_unix_nano
                minute = end // NANOS_PER_MINUTE if end else NO_END  # end_minute(end), without a call per span
                key = (name, span.kind, span.status, minute, values_of(span))
                groups[key] = groups.get(key, 0) + 1
        tally.unmatched_spans(unmatched)
        _tally_groups(groups, rules, read, tally)
    return tally


def _values_reader(read: tuple[str, ...], inherited: list[bytes | None]) -> Callable[[Any], tuple[Any, ...]]:
    """What reads a span's values of the attributes ``read`` (each its encoding, or the resource's,
    or None), as a tuple: written out for the few attributes rules read, as a span's cost is mostly
    the calls it makes into protobuf (a span without rules reading attributes has its map left unread)."""
    if not read:
        return lambda span: ()
    if len(read) == 1:
        ((a, a_default),) = zip(read, inherited, strict=True)
        return lambda span: (span.attributes.get(a, a_default),)
    if len(read) == 2:
        (a, a_default), (b, b_default) = zip(read, inherited, strict=True)

        def two(span: Any) -> tuple[Any, ...]:
            own = span.attributes
            return own.get(a, a_default), own.get(b, b_default)

        return two
    return lambda span: tuple(map(span.attributes.get, read, inherited))


def _tally_groups(
    groups: dict[tuple[Any, ...], int], rules: ServiceRules, read: tuple[str, ...], tally: SpanTally
) -> None:
    decoded: dict[bytes | None, AttributeValue | None] = {}
    errors: dict[bytes, bool] = {}
    for (name, kind, status, minute, values), count in groups.items():
        attributes = {}
        for attribute, raw in zip(read, values, strict=True):
            value = _scalar(raw, decoded)
            if value is not None:
                attributes[attribute] = value
        error = errors.get(status)
        if error is None:
            error = errors[status] = _decoded(otlp_schema.status_code, status, "a span's status") == STATUS_CODE_ERROR
        tally.add(verdicts(rules.candidates(name), kind, error, attributes), minute, count)


def _scalar(encoded: bytes | None, decoded: dict[bytes | None, AttributeValue | None]) -> AttributeValue | None:
    """An attribute's value (its AnyValue's encoding) as a plain value: a string, boolean, integer or
    double; None for no value, an array, map or bytes (no condition compares them). ``decoded``
    remembers the values seen in this request."""
    if encoded in decoded:
        return decoded[encoded]
    value: AttributeValue | None = None
    if encoded is not None:
        any_value = _decoded(otlp_schema.any_value, encoded, "an attribute's value")
        kind = any_value.WhichOneof("value")
        value = getattr(any_value, kind) if kind in _SCALARS else None
    decoded[encoded] = value
    return value


_SCALARS = frozenset({"string_value", "bool_value", "int_value", "double_value"})


def _decoded(decode: Callable[[bytes], T], encoded: bytes, what: str) -> T:
    try:
        return decode(encoded)
    except DecodeError as exc:
        raise Refused(400, "body", f"{what} is not protobuf ({str(exc)[:120]})") from None


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
