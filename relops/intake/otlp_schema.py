"""OTLP's ExportTraceServiceRequest as the intake reads it: opentelemetry-proto's own message
definitions, with one change that protobuf's wire format allows, so protobuf itself (upb, in C)
does the work a Python loop would otherwise do for every attribute of every span.

An OTLP attribute list (``repeated KeyValue attributes``, KeyValue = {1: string key, 2: AnyValue
value}) is, on the wire, exactly a protobuf map (``map<string, AnyValue>``: repeated entries of
{1: key, 2: value}). Declared as a map on Span and Resource, the attributes are parsed into a hash
table, and a rule reads ``http.route`` with one look-up instead of walking all of a span's attributes
in Python, which cost more than everything else a span needs together. A key sent twice keeps its
last value (OTLP requires keys to be unique). Every other field is opentelemetry-proto's own: the
definitions are copied from its descriptors, so field numbers and types cannot drift from it.
"""

from __future__ import annotations

import functools
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FileDescriptor
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

REQUEST = "opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest"
ANY_VALUE = ".opentelemetry.proto.common.v1.AnyValue"
#: The messages whose attributes become maps: (the file that defines it, the message).
MAPPED = {
    "opentelemetry/proto/trace/v1/trace.proto": "Span",
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
    entry.field.add(name="value", number=2, type=types.TYPE_MESSAGE, label=types.LABEL_OPTIONAL, type_name=ANY_VALUE)
    attributes = next(f for f in message.field if f.name == "attributes")
    attributes.type_name = f".{file.package}.{message_name}.AttributesEntry"
