"""``python -m bench otlp``: one `relops intake` process taking OTLP/HTTP trace exports of 512 spans
(the OpenTelemetry SDK's default export batch), side by side with a bare endpoint on the same server
stack that decodes the same protobuf and answers OTLP's empty 200: spans per second, latency, and
the ratio of the two. The intake maps every span through the config's [flows.spans] rules (a server
span of a flow's route, bad by status code or ERROR; client and internal spans of the same service
match none, as in a real trace). Afterwards every 200 is checked against the broker: each accepted
export's counts are in a queued message, exactly once, and they add up to the spans that counted.
"""

from __future__ import annotations

import random
import subprocess

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

from bench.http_load import request_bytes, run_load
from bench.intake import _cpu_s, _line, _queued, intake_server
from bench.intake_server import BARE_OTLP_PATH
from bench.stack import bench_stack
from relops import names
from relops.timeutil import utcnow

SPANS_PER_EXPORT = 512
#: Distinct exports built up front (each with its own span ids): the load generator shares the
#: machine's cores with the server, so no request is built while a run is measured.
DISTINCT_EXPORTS = 64
FLOWS = 20
CONNECTIONS = 8
EXPORTS_PER_RUN = 600
WARM_UP = 100
#: The share of an export's spans that are a flow's server spans; the rest are client and internal.
SERVER_SHARE = 0.6


def _config() -> str:
    rules = (
        'service = "checkout-api"\nnames = ["POST /api/{i}"]\n'
        'attributes = [\'http.route = "/api/{i}"\']\nbad_when = ["http.response.status_code >= 500"]\n'
    )
    return "\n".join(
        f'[[flows]]\nname = "flow-{i:02d}"\nobjective_percent = 99.9\n[flows.spans]\n' + rules.format(i=i)
        for i in range(FLOWS)
    )


def _kv(key: str, value: str | int) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _export(rng: random.Random, end_ns: int) -> tuple[bytes, int]:
    """One export as an SDK would send it (ids, times, the semantic conventions' attributes) and how
    many of its spans count for a flow."""
    spans, counted = [], 0
    for index in range(SPANS_PER_EXPORT):
        flow = rng.randrange(FLOWS)
        server = index < SPANS_PER_EXPORT * SERVER_SHARE
        code = 503 if rng.random() < 0.01 else 200
        attributes = [
            _kv("http.request.method", "POST"),
            _kv("http.route", f"/api/{flow}"),
            _kv("http.response.status_code", code),
            _kv("url.path", f"/api/{flow}"),
            _kv("url.scheme", "https"),
            _kv("server.address", "checkout.internal"),
            _kv("network.protocol.version", "1.1"),
            _kv("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
        ]
        spans.append(
            Span(
                trace_id=rng.randbytes(16),
                span_id=rng.randbytes(8),
                parent_span_id=b"" if server else rng.randbytes(8),
                name=f"POST /api/{flow}" if server else "SELECT orders",
                kind=Span.SPAN_KIND_SERVER if server else rng.choice([Span.SPAN_KIND_CLIENT, Span.SPAN_KIND_INTERNAL]),
                start_time_unix_nano=end_ns - 12_000_000,
                end_time_unix_nano=end_ns - rng.randrange(1_000_000_000),
                attributes=attributes,
                status=Status(code=Status.STATUS_CODE_ERROR if code >= 500 else Status.STATUS_CODE_UNSET),
            )
        )
        counted += server
    resource = Resource(
        attributes=[
            _kv("service.name", "checkout-api"),
            _kv("service.version", "2026.12.1"),
            _kv("telemetry.sdk.name", "opentelemetry"),
            _kv("telemetry.sdk.language", "python"),
            _kv("host.name", "checkout-7f9c"),
        ]
    )
    request = ExportTraceServiceRequest(
        resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=spans)])]
    )
    return request.SerializeToString(), counted


def run() -> list[str]:
    with bench_stack(_config()) as stack, intake_server(stack, ["otlp"]) as (port, key, server):
        return _measure(port, key, stack.env["CELERY_BROKER_URL"], server)


def _measure(port: int, key: str, broker_url: str, server: subprocess.Popen) -> list[str]:
    rng = random.Random(28)
    end_ns = int(utcnow().timestamp() * 1e9)
    exports = [_export(rng, end_ns) for _ in range(DISTINCT_EXPORTS)]
    headers = [("Authorization", f"Bearer {key}"), ("Content-Type", "application/x-protobuf")]
    intake = [request_bytes("POST", "/v1/traces", headers=headers, body=body) for body, _ in exports]
    bare = [request_bytes("POST", BARE_OTLP_PATH, headers=headers, body=body) for body, _ in exports]
    size_kb = sum(len(body) for body, _ in exports) / len(exports) / 1024

    def load(requests_: list[bytes], total: int) -> tuple:
        before = _cpu_s(server.pid)
        result = run_load(port, lambda i: requests_[i % len(requests_)], total=total, connections=CONNECTIONS)
        return result, (_cpu_s(server.pid) - before) / max(1, result.count) * 1e6

    load(bare, WARM_UP)
    accepted = load(intake, WARM_UP)[0].statuses[200]
    lines = [
        f"otlp: one process, {CONNECTIONS} keep-alive connections, exports of {SPANS_PER_EXPORT} spans "
        f"({size_kb:.0f} KB, {SERVER_SHARE:.0%} of them a flow's server spans), {FLOWS} flows"
    ]
    for round_ in range(2):
        bare_run = load(bare, EXPORTS_PER_RUN)
        intake_run = load(intake, EXPORTS_PER_RUN)
        accepted += intake_run[0].statuses[200]
        lines += [
            _line(f"bare decode, 200 (round {round_ + 1})", bare_run) + _spans(bare_run[0].per_s),
            _line("POST /v1/traces", intake_run, bare_run) + _spans(intake_run[0].per_s),
        ]
    lines += _accounting(broker_url, accepted, exports)
    return lines


def _spans(exports_per_s: float) -> str:
    return f"  = {exports_per_s * SPANS_PER_EXPORT:,.0f} spans/s"


def _accounting(broker_url: str, accepted: int, exports: list[tuple[bytes, int]]) -> list[str]:
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        messages = _queued(client, names.QUEUE_INGEST)
    finally:
        client.close()
    batches = [batch for message in messages for batch in message["batches"]]
    counted = sum(item["good"] + item["bad"] for batch in batches for item in batch["counts"])
    # Request i carried export i % DISTINCT_EXPORTS; every run started at request 0.
    expected = sum(exports[i % len(exports)][1] for i in range(WARM_UP)) + 2 * sum(
        exports[i % len(exports)][1] for i in range(EXPORTS_PER_RUN)
    )
    ok = len(batches) == accepted and counted == expected
    verdict = "every 200 queued exactly once, every counted span in it" if ok else "MISMATCH"
    return [
        f"  broker: {len(batches)} batches in {len(messages)} messages for {accepted} accepted exports, "
        f"{counted} spans counted (expected {expected}): {verdict}"
    ]
