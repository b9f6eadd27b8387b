"""OTLP's ExportTraceServiceRequest as the intake reads it: opentelemetry-proto's own message
definitions, with changes that protobuf's wire format allows, so protobuf itself (upb, in C) does
the work a Python loop would otherwise do for every span.

- An OTLP attribute list (``repeated KeyValue attributes``, KeyValue = {1: string key, 2: AnyValue
  value}) is, on the wire, exactly a protobuf map (repeated entries of {1: key, 2: value}). Declared
  as a map on Span and Resource, the attributes are parsed into a hash table, and a rule reads
  ``http.route`` with one look-up instead of walking all of a span's attributes in Python. A key
  sent twice keeps its last value (OTLP requires keys to be unique).
- The map's values, and a span's ``status``, are declared ``bytes``: a submessage and a bytes field
  are the same on the wire (length-delimited), so each arrives as the submessage's encoding. Those
  bytes are hashable as they are: spans are grouped by them, and each distinct value is decoded
  once per request (``any_value``, ``status_code``), not once per span. A submessage split into
  several pieces on the wire (which protobuf merges, and no OTLP exporter sends) keeps its last piece.

Every other field is opentelemetry-proto's own: the definitions are copied from its descriptors, so
field numbers and types cannot drift from it.
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FileDescriptor
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Status

REQUEST = "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"
SPAN_FILE = "opentelemetry/proto/trace/v1/trace.proto"
#: The messages whose attributes become maps: (the file that defines it, the message).
MAPPED = {
    SPAN_FILE: "Span",
    "opentelemetry/proto/resource/v1/resource.proto": "Resource",
}


@functools.cache
def request_class() -> Any:
    """ExportTraceServiceRequest with map attributes, in a descriptor pool of its own (built once,
    on first use: importing this module builds nothing)."""
    pool = descriptor_pool.DescriptorPool()
    for file in _with_dependencies(trace_service_pb2.DESCRIPTOR, []):
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        if proto.name in MAPPED:
            _attributes_as_map(proto, MAPPED[proto.name])
        if proto.name == SPAN_FILE:
            _status_as_bytes(proto)
        pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(REQUEST))


def _with_dependencies(file: FileDescriptor, found: list[FileDescriptor]) -> list[FileDescriptor]:
    """``file`` after every file it imports, each once: the order a pool takes them in."""
    for dependency in file.dependencies:
        _with_dependencies(dependency, found)
    if all(known.name != file.name for known in found):
        found.append(file)
    return found


def _attributes_as_map(file: descriptor_pb2.FileDescriptorProto, message_name: str) -> None:
    message = next(m for m in file.message_type if m.name == message_name)
    entry = message.nested_type.add(name="AttributesEntry")
    entry.options.map_entry = True
    types = descriptor_pb2.FieldDescriptorProto
    entry.field.add(name="key", number=1, type=types.TYPE_STRING, label=types.LABEL_OPTIONAL, json_name="key")
    entry.field.add(name="value", number=2, type=types.TYPE_BYTES, label=types.LABEL_OPTIONAL, json_name="value")
    attributes = next(f for f in message.field if f.name == "attributes")
    attributes.type_name = f".{file.package}.{message_name}.AttributesEntry"


def _status_as_bytes(file: descriptor_pb2.FileDescriptorProto) -> None:
    span = next(m for m in file.message_type if m.name == "Span")
    status = next(f for f in span.field if f.name == "status")
    status.type = descriptor_pb2.FieldDescriptorProto.TYPE_BYTES
    status.ClearField("type_name")


def any_value(encoded: bytes) -> AnyValue:
    """An attribute's value from the bytes the map holds (an AnyValue's encoding)."""
    return AnyValue.FromString(encoded)


def status_code(encoded: bytes) -> int:
    """A span's Status.code from the bytes its ``status`` holds; 0 (unset) for none."""
    return Status.FromString(encoded).code if encoded else 0
