"""OpenTelemetry traces into the intake, against real processes: the OpenTelemetry Python SDK's own
OTLP/HTTP exporter, and the Node SDK's in examples/node, sending spans to a `relops intake` process,
the session's worker counting them into PostgreSQL, and every answer OTLP/HTTP specifies (200 with
or without partial_success, 400, 401, 403, 413, 415) read back as OTLP's own messages."""

from __future__ import annotations

import gzip
import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from google.rpc import status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import Engine, text

from tests.integration.conftest import BrokerUnderTest, run_cli, wait_for
from tests.integration.queries import flow_totals
from tests.integration.test_node_examples import installed_examples, run_example
from tests.support.celery_process import CeleryProcess
from tests.web_support import running_server

pytestmark = pytest.mark.integration

#: What the intake of this module adds to the session's config: two flows counted from spans, and a
#: small body limit for the 413s. The session's worker knows the same flows (it needs their names only).
SPANS = {
    "checkout": '{ service = "checkout-api", names = ["POST /api/checkout"], '
    'attributes = [\'http.route = "/api/checkout"\'], bad_when = ["http.response.status_code >= 500"] }',
    "search": '{ service = "checkout-api", kinds = ["server"], attributes = [\'http.route =~ "/api/search.*"\'] }',
}
MAX_BODY_BYTES = 65_536
PROTOBUF = {"Content-Type": "application/x-protobuf"}


@pytest.fixture(scope="module")
def otlp_config(config_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = config_path.read_text()
    for flow, rules in SPANS.items():
        config, found = re.subn(rf'(\[\[flows\]\]\nname = "{flow}"\n)', rf"\1spans = {rules}\n", config)
        assert found == 1, flow
    config += f"\n[intake]\nmax_otlp_body_bytes = {MAX_BODY_BYTES}\n"
    path = tmp_path_factory.mktemp("otlp") / "relops-otlp.toml"
    path.write_text(config)
    return path


def new_key(*options: str) -> str:
    name = f"otel-{uuid.uuid4().hex[:6]}"
    return run_cli("keys", "add", name, *options).strip().splitlines()[-1]


@pytest.fixture(scope="module")
def keys(relops_env: dict[str, str]) -> dict[str, str]:
    """Made before the intake starts, so it knows them from its first request."""
    return {
        "otlp": new_key("--scope", "otlp"),
        "checkout only": new_key("--scope", "otlp", "--flows", "checkout"),
        "outcomes": new_key("--scope", "outcomes"),
    }


@pytest.fixture(scope="module")
def intake(relops_env: dict[str, str], otlp_config: Path, output_dir: Path, keys: dict[str, str]) -> Iterator[str]:
    env = {**relops_env, "RELOPS_CONFIG": str(otlp_config)}
    with running_server("intake", env, output_dir / "intake-otlp.log") as (url, _):
        yield url
    log = (output_dir / "intake-otlp.log").read_text(errors="replace")
    assert not [name for name, key in keys.items() if key in log], "a key reached the intake's log"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def recorded_spans(service: str, make: dict[str, int]) -> list[ReadableSpan]:
    """Spans made by the real SDK, kept in memory: ``make`` counts how many of each kind."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("relops-tests")
    kinds = {
        "checkout ok": ("POST /api/checkout", SpanKind.SERVER, "/api/checkout", 200, False),
        "checkout 5xx": ("POST /api/checkout", SpanKind.SERVER, "/api/checkout", 503, False),
        "checkout error": ("POST /api/checkout", SpanKind.SERVER, "/api/checkout", 200, True),
        "checkout as client": ("POST /api/checkout", SpanKind.CLIENT, "/api/checkout", 200, False),
        "search ok": ("GET /api/search", SpanKind.SERVER, "/api/search/q", 200, False),
        "search error": ("GET /api/search", SpanKind.SERVER, "/api/search/q", 200, True),
        "health": ("GET /healthz", SpanKind.SERVER, "/healthz", 200, False),
        "internal": ("render", SpanKind.INTERNAL, "/api/checkout", 200, False),
    }
    for kind, count in make.items():
        name, span_kind, route, code, error = kinds[kind]
        for _ in range(count):
            attributes = {"http.route": route, "http.response.status_code": code}
            with tracer.start_as_current_span(name, kind=span_kind, attributes=attributes) as span:
                if error:
                    span.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def exporter(intake: str, key: str, **options: object) -> OTLPSpanExporter:
    """The SDK's OTLP/HTTP exporter as a service configures it: the intake's address and a header."""
    return OTLPSpanExporter(endpoint=f"{intake}/v1/traces", headers=bearer(key), timeout=10, **options)  # type: ignore[arg-type]


def minute_counts(db: Engine, flow: str) -> dict[str, tuple[int, int]]:
    with db.connect() as conn:
        rows = conn.execute(
            text("SELECT minute, good, bad FROM ops_flow_minutes WHERE flow = :flow AND (good > 0 OR bad > 0)"),
            {"flow": flow},
        )
        return {row.minute.strftime("%Y-%m-%dT%H:%M"): (row.good, row.bad) for row in rows}


def expected_minutes(spans: list[ReadableSpan], good: set[str], bad: set[str]) -> dict[str, tuple[int, int]]:
    """Per minute of their end: the spans named in ``good`` and ``bad`` (by their kind label)."""
    counts: Counter[tuple[str, bool]] = Counter()
    for span in spans:
        assert span.end_time is not None
        minute = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(span.end_time // 1_000_000_000))
        kind = _kind(span)
        if kind in good:
            counts[(minute, False)] += 1
        elif kind in bad:
            counts[(minute, True)] += 1
    minutes = {minute for minute, _ in counts}
    return {minute: (counts[(minute, False)], counts[(minute, True)]) for minute in minutes}


def _kind(span: ReadableSpan) -> str:
    attributes = span.attributes or {}
    route, code = attributes.get("http.route"), attributes.get("http.response.status_code")
    error = span.status.status_code == StatusCode.ERROR
    if span.kind == SpanKind.SERVER and span.name == "POST /api/checkout" and route == "/api/checkout":
        return "checkout error" if error else "checkout 5xx" if code == 503 else "checkout ok"
    if span.kind == SpanKind.SERVER and span.name == "GET /api/search":
        return "search error" if error else "search ok"
    return "other"


def settled(relops_env: dict[str, str], redis_url: str) -> bool:
    return BrokerUnderTest("redis", relops_env["CELERY_BROKER_URL"], relops_env).idle(redis_url)


def test_the_python_sdk_exports_a_mix_of_spans_that_lands_as_exact_minute_counts(
    intake: str, keys: dict[str, str], worker: CeleryProcess, db: Engine, clean_tables: None
) -> None:
    mix = {
        "checkout ok": 37,
        "checkout 5xx": 5,
        "checkout error": 3,
        "checkout as client": 4,
        "search ok": 21,
        "search error": 2,
        "health": 6,
        "internal": 7,
    }
    spans = recorded_spans("checkout-api", mix)
    other_service = recorded_spans("billing-api", {"checkout ok": 9, "checkout 5xx": 2})
    sender = exporter(intake, keys["otlp"])
    assert sender.export(spans) == SpanExportResult.SUCCESS
    assert sender.export(other_service) == SpanExportResult.SUCCESS
    sender.shutdown()

    checkout = expected_minutes(spans, {"checkout ok"}, {"checkout 5xx", "checkout error"})
    search = expected_minutes(spans, {"search ok"}, {"search error"})
    wait_for(lambda: flow_totals(db, "checkout") == (37, 8) and flow_totals(db, "search") == (21, 2), what="counts")
    assert minute_counts(db, "checkout") == checkout
    assert minute_counts(db, "search") == search


def test_a_gzipped_export_counts_and_a_duplicate_of_it_counts_once(
    intake: str,
    keys: dict[str, str],
    worker: CeleryProcess,
    db: Engine,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    clean_tables: None,
) -> None:
    spans = recorded_spans("checkout-api", {"checkout ok": 10, "checkout 5xx": 3})
    # Configured from the environment, as docs/guides/opentelemetry.md shows (the header URL-encoded).
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", f"{intake}/v1/traces")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", f"Authorization=Bearer%20{keys['otlp']}")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
    sender = OTLPSpanExporter()
    # The same spans exported twice make the same bytes: as an exporter's retry after a lost answer.
    assert sender.export(spans) == SpanExportResult.SUCCESS
    assert sender.export(spans) == SpanExportResult.SUCCESS
    sender.shutdown()
    wait_for(lambda: flow_totals(db, "checkout") == (10, 3), what="counts")
    wait_for(lambda: settled({"CELERY_BROKER_URL": redis_url}, redis_url), what="the duplicate handled")
    assert flow_totals(db, "checkout") == (10, 3)
    with db.connect() as conn:
        batches = conn.execute(text("SELECT count(*) FROM ops_ingested_batches WHERE batch_id LIKE 'otlp-%'")).scalar()
    assert batches == 1


def test_an_otlp_json_export_is_answered_in_json_and_counts(
    intake: str, keys: dict[str, str], worker: CeleryProcess, db: Engine, clean_tables: None
) -> None:
    end_ns = time.time_ns()
    span = {
        "traceId": "5B8EFFF798038103D269B633813FC60C",
        "spanId": "EEE19B7EC3C1B174",
        "name": "POST /api/checkout",
        "kind": 2,
        "startTimeUnixNano": str(end_ns - 5_000_000),
        "endTimeUnixNano": str(end_ns),
        "attributes": [
            {"key": "http.route", "value": {"stringValue": "/api/checkout"}},
            {"key": "http.response.status_code", "value": {"intValue": "502"}},
        ],
    }
    payload = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "checkout-api"}}]},
                "scopeSpans": [{"scope": {"name": "curl"}, "spans": [span, {**span, "spanId": "EEE19B7EC3C1B175"}]}],
            }
        ]
    }
    answer = requests.post(
        f"{intake}/v1/traces",
        data=json.dumps(payload),
        headers={**bearer(keys["otlp"]), "Content-Type": "application/json"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {}  # full success: partial_success left unset
    wait_for(lambda: flow_totals(db, "checkout") == (0, 2), what="counts")


def test_spans_that_cannot_count_are_refused_in_partial_success_and_the_rest_count(
    intake: str, keys: dict[str, str], worker: CeleryProcess, db: Engine, clean_tables: None
) -> None:
    spans = recorded_spans("checkout-api", {"checkout ok": 4, "search ok": 3, "health": 2})
    request = ExportTraceServiceRequest.FromString(_encoded(spans))
    first = request.resource_spans[0].scope_spans[0].spans[0]
    assert first.name == "POST /api/checkout"
    first.end_time_unix_nano = 0
    answer = requests.post(
        f"{intake}/v1/traces",
        data=request.SerializeToString(),
        headers={**bearer(keys["checkout only"]), **PROTOBUF},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/x-protobuf"
    partial = ExportTraceServiceResponse.FromString(answer.content).partial_success
    # Refused: the checkout span with no end, and the search spans (the key may report checkout
    # only); the health spans match no flow (dropped, not refused).
    assert partial.rejected_spans == 4
    assert "3 x key" in partial.error_message and "may not report flow 'search'" in partial.error_message
    assert "1 x a span without end_time_unix_nano cannot count" in partial.error_message
    wait_for(lambda: flow_totals(db, "checkout") == (3, 0), what="counts")
    assert flow_totals(db, "search") == (0, 0)


def _encoded(spans: list[ReadableSpan]) -> bytes:
    """The request the SDK's exporter would send for ``spans``, with its own encoder."""
    return encode_spans(spans).SerializeToString()


def status_message(answer: requests.Response) -> str:
    assert answer.headers["content-type"] == "application/x-protobuf"
    return status_pb2.Status.FromString(answer.content).message


def test_refusals_are_answered_as_otlp_http_says(intake: str, keys: dict[str, str], clean_tables: None) -> None:
    url = f"{intake}/v1/traces"
    body = _encoded(recorded_spans("checkout-api", {"checkout ok": 1}))

    malformed = requests.post(url, data=b"\xff\xff\xff\xff", headers={**bearer(keys["otlp"]), **PROTOBUF}, timeout=10)
    assert malformed.status_code == 400
    assert "is not a protobuf ExportTraceServiceRequest" in status_message(malformed)

    bad_json = requests.post(
        url, data=b"{nope", headers={**bearer(keys["otlp"]), "Content-Type": "application/json"}, timeout=10
    )
    assert bad_json.status_code == 400
    assert bad_json.headers["content-type"] == "application/json"
    assert "OTLP JSON" in bad_json.json()["message"]

    too_big = requests.post(url, data=b"\0" * (MAX_BODY_BYTES + 1), headers={**bearer(keys["otlp"]), **PROTOBUF})
    assert too_big.status_code == 413
    assert f"more than {MAX_BODY_BYTES}" in status_message(too_big)

    bomb = gzip.compress(b"\0" * (MAX_BODY_BYTES * 4))
    inflated = requests.post(
        url, data=bomb, headers={**bearer(keys["otlp"]), **PROTOBUF, "Content-Encoding": "gzip"}, timeout=10
    )
    assert inflated.status_code == 413
    assert "once decompressed" in status_message(inflated)

    unknown = requests.post(url, data=body, headers={**bearer("rlk_not-a-key"), **PROTOBUF}, timeout=10)
    assert unknown.status_code == 401
    assert unknown.headers["www-authenticate"] == "Bearer"
    assert "rlk_not-a-key" not in status_message(unknown)

    missing = requests.post(url, data=body, headers=PROTOBUF, timeout=10)
    assert missing.status_code == 401

    other_scope = requests.post(url, data=body, headers={**bearer(keys["outcomes"]), **PROTOBUF}, timeout=10)
    assert other_scope.status_code == 403
    assert "has no otlp scope" in status_message(other_scope)

    text_body = requests.post(url, data=b"x", headers={**bearer(keys["otlp"]), "Content-Type": "text/plain"})
    assert text_body.status_code == 415

    ok = requests.post(url, data=body, headers={**bearer(keys["otlp"]), **PROTOBUF}, timeout=10)
    assert ok.status_code == 200
    assert not ExportTraceServiceResponse.FromString(ok.content).HasField("partial_success")
    gzipped = requests.post(
        url, data=gzip.compress(body), headers={**bearer(keys["otlp"]), **PROTOBUF, "Content-Encoding": "gzip"}
    )
    assert gzipped.status_code == 200


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """examples/node with its locked dependencies (npm ci), as test_node_examples runs them."""
    return installed_examples(tmp_path_factory)


def test_the_node_sdk_example_exports_spans_that_land_as_exact_counts(
    node: tuple[str, Path], intake: str, keys: dict[str, str], worker: CeleryProcess, db: Engine, clean_tables: None
) -> None:
    """examples/node/traces-otlp.mjs: OpenTelemetry's Node SDK (@opentelemetry/sdk-node) with its
    OTLP/HTTP exporter (@opentelemetry/exporter-trace-otlp-http, which sends OTLP JSON), from npm."""
    env = {"RELOPS_INTAKE_URL": intake, "RELOPS_KEY": keys["otlp"]}
    assert "exported" in run_example(node, "traces-otlp.mjs", env, "12", "3", "2")
    wait_for(lambda: flow_totals(db, "checkout") == (12, 5), what="the Node SDK's spans counted")
    assert flow_totals(db, "search") == (0, 0)
