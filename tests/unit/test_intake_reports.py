"""The intake's pure parts: key scopes, what a ping or a batch reports, and the status of each refusal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relops import names
from relops.access.report_keys import ReportKey, hash_key, metrics_refusal, new_key, parse_scopes, refusal
from relops.config import parse_config
from relops.errors import InputRejected
from relops.intake.group import OUTCOME_ITEMS_PER_MESSAGE, _outcome_chunks
from relops.intake.reports import Refused, cron_event, known_job, outcome_batch, ping_fields
from relops.redaction import redact_request_target
from relops.slo.outcome_batch import MAX_COUNT_PER_MINUTE, parse_counts, validate_batch_id
from relops.slo.retention import horizons, oldest_countable

NOW = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)
CONFIG = parse_config(
    {
        "flows": [{"name": "checkout", "objective_percent": 99.9}, {"name": "login", "objective_percent": 99.5}],
        "jobs": [{"name": "nightly", "period_s": 3600}],
    },
    "test.toml",
)
OLDEST = horizons(CONFIG, NOW).hours


def key(**overrides: object) -> ReportKey:
    fields = {"id": 1, "name": "svc", "scopes": frozenset({"cron"}), "flows": None, "jobs": None}
    fields.update(overrides)
    return ReportKey(rate_per_s=10.0, burst=10, **fields)  # type: ignore[arg-type]


def test_keys_are_random_credentials_stored_as_hashes() -> None:
    first, second = new_key(), new_key()
    assert first != second and first.startswith("rlk_") and len(first) > 40
    assert hash_key(first) != first and len(hash_key(first)) == 64
    assert redact_request_target(f"/api/v1/ping/{first}/nightly/start") == "/api/v1/ping/***/nightly/start"
    assert redact_request_target("/api/v1/ping/short/nightly") == "/api/v1/ping/***/nightly", (
        "masked whatever its shape"
    )


def test_scopes_parse_and_refuse_what_a_key_may_not_report() -> None:
    assert parse_scopes("cron, outcomes") == ("outcomes", "cron")
    with pytest.raises(ValueError, match="outcomes, cron"):
        parse_scopes("cron,read")
    assert refusal(key(), "cron", ["nightly"]) is None
    assert "no outcomes scope" in (refusal(key(), "outcomes", []) or "")
    narrow = key(scopes=frozenset({"outcomes"}), flows=frozenset({"checkout"}))
    assert refusal(narrow, "outcomes", ["checkout"]) is None
    assert "flow 'login'" in (refusal(narrow, "outcomes", ["checkout", "login"]) or "")


def test_an_otlp_key_sends_spans_and_its_flow_list_narrows_them() -> None:
    assert parse_scopes("otlp,outcomes") == ("outcomes", "otlp")
    spans = key(scopes=frozenset({"otlp"}), flows=frozenset({"checkout"}))
    assert refusal(spans, "otlp", []) is None
    assert refusal(spans, "otlp", ["checkout"]) is None
    assert "may not report flow 'search'" in (refusal(spans, "otlp", ["search"]) or "")
    assert "no otlp scope" in (refusal(key(), "otlp", []) or "")
    assert "no outcomes scope" in (refusal(spans, "outcomes", []) or "")


def test_a_metrics_key_reads_metrics_alone_and_reports_nothing() -> None:
    assert parse_scopes("metrics") == ("metrics",)
    for mixed in ("metrics,cron", "outcomes, metrics", "metrics,outcomes,cron"):
        with pytest.raises(ValueError, match="cannot be combined"):
            parse_scopes(mixed)
    scraper = key(scopes=frozenset({"metrics"}))
    assert "is a metrics key" in (refusal(scraper, "outcomes", []) or "")
    assert "is a metrics key" in (refusal(scraper, "cron", ["nightly"]) or "")
    assert metrics_refusal("prometheus", {"metrics"}) is None
    assert "is a report key (cron, outcomes)" in (metrics_refusal("svc", {"outcomes", "cron"}) or "")


def refused(call: object, *args: object, **kwargs: object) -> Refused:
    with pytest.raises(Refused) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return caught.value


def test_a_ping_takes_its_fields_from_the_query_and_the_body() -> None:
    assert ping_fields("success", {}, b"", "") == ping_fields("success", {}, b"", "text/plain")
    text = ping_fields("success", {"run_id": "r1", "duration_ms": "1500"}, b"42 rows", "text/plain")
    assert (text.run_id, text.duration_ms, text.result, text.error) == ("r1", 1500, "42 rows", None)
    failed = ping_fields("failure", {}, b"disk full", "")
    assert failed.error == "disk full" and failed.result is None
    sent = ping_fields(
        "failure", {}, json.dumps({"run_id": "r2", "error": "x", "duration_ms": 5}).encode(), "application/json"
    )
    assert (sent.run_id, sent.duration_ms, sent.error) == ("r2", 5, "x")


@pytest.mark.parametrize(
    ("kind", "query", "body", "content_type", "status", "field"),
    [
        ("success", {"duration_ms": "soon"}, b"", "", 422, "duration_ms"),
        ("success", {"rid": "x"}, b"", "", 422, "rid"),
        ("started", {}, b"text", "text/plain", 422, "body"),
        ("success", {}, b"{", "application/json", 400, "body"),
        ("success", {}, b"[1]", "application/json", 400, "body"),
        ("success", {}, b'{"when": 1}', "application/json", 422, "when"),
        ("success", {}, b'{"error": "x"}', "application/json", 422, "error"),
        ("success", {}, b"\xff\xfe", "text/plain", 422, "body"),
    ],
)
def test_a_bad_ping_is_refused_naming_the_field(kind, query, body, content_type, status, field) -> None:
    error = refused(ping_fields, kind, query, body, content_type)
    assert (error.status, error.field) == (status, field)


def test_a_ping_event_is_checked_as_the_task_checks_it() -> None:
    event, run = cron_event(
        "nightly", "success", ping_fields("success", {}, b"ok", ""), "r1", now=NOW, result_max_bytes=256
    )
    assert event == {
        "name": "nightly",
        "run_id": "r1",
        "status": "success",
        "at": NOW.isoformat(),
        "duration_ms": None,
        "result": "ok",
        "error": None,
    }
    assert run.finished
    big = ping_fields("success", {}, b"x" * 300, "")
    error = refused(cron_event, "nightly", "success", big, "r1", now=NOW, result_max_bytes=256)
    assert (error.status, error.field) == (422, "result")
    assert refused(known_job, CONFIG, "weekly").status == 404


def batch(*items: dict, **extra: object) -> bytes:
    return json.dumps({"counts": list(items), **extra}).encode()


def item(**overrides: object) -> dict:
    return {"flow": "checkout", "minute": "2026-11-30T12:00:00Z", "good": 5, "bad": 1, **overrides}


def test_an_outcome_batch_is_taken_whole() -> None:
    taken = outcome_batch(batch(item(), item(flow="login"), batch_id="b-1"), CONFIG, NOW)
    assert taken.batch_id == "b-1" and taken.flows() == {"checkout", "login"} and len(taken.counts) == 2
    assert len(outcome_batch(batch(item()), CONFIG, NOW).batch_id) == 32, "an id is made when none is sent"
    unknown = refused(outcome_batch, batch(item(), item(flow="nope"), item(good=-1)), CONFIG, NOW)
    assert (unknown.status, unknown.field, unknown.item) == (404, "flow", 1)
    assert unknown.body()["rejected_items"] == 2
    invalid = refused(outcome_batch, batch(item(), item(minute="2026-11-30T12:00:30Z")), CONFIG, NOW)
    assert (invalid.status, invalid.field, invalid.item) == (422, "minute", 1)
    assert refused(outcome_batch, batch(item(), extra=1), CONFIG, NOW).field == "extra"
    assert refused(outcome_batch, json.dumps({"counts": {}}).encode(), CONFIG, NOW).field == "counts"
    assert refused(outcome_batch, json.dumps({"counts": [], "batch_id": ""}).encode(), CONFIG, NOW).field == "batch_id"


_minutes = st.sampled_from(
    ["2026-11-30T12:00:00Z", "2026-11-30T13:00:00+01:00", "2026-11-30T12:00:00", "2026-11-30T12:00:30Z", 5]
)
_items = st.fixed_dictionaries(
    {
        "flow": st.sampled_from(["checkout", "login", "nope", 3]),
        "minute": _minutes,
        "good": st.sampled_from([0, 9, MAX_COUNT_PER_MINUTE, MAX_COUNT_PER_MINUTE + 1, -1, 1.0, True, "1"]),
        "bad": st.integers(min_value=0, max_value=2),
    },
    optional={"note": st.just("x")},
)


@settings(max_examples=300)
@given(
    st.lists(st.one_of(st.just(item()), _items), max_size=6),
    st.sampled_from([{}, {"batch_id": "b-1"}, {"batch_id": None}, {"batch_id": ""}, {"extra": 1}]),
)
def test_the_intake_takes_a_batch_exactly_when_the_task_would_take_all_of_it(items, extra) -> None:
    """Whichever path the intake's check takes, it accepts a batch only if the task would accept
    every item, and what it forwards is what was sent."""
    body = batch(*items, **extra)
    task_valid, task_rejected = parse_counts(items, known_flows=CONFIG.flows_by_name, now=NOW, oldest=OLDEST)
    try:
        taken = outcome_batch(body, CONFIG, NOW)
    except Refused:
        try:
            ok_id = "batch_id" not in extra or validate_batch_id(extra["batch_id"])
        except InputRejected:
            ok_id = False
        assert task_rejected or not ok_id or "extra" in extra
        return
    assert not task_rejected and "extra" not in extra
    forwarded = json.loads(msgspec.json.encode(taken.counts))
    assert parse_counts(forwarded, known_flows=CONFIG.flows_by_name, now=NOW, oldest=OLDEST) == (task_valid, [])
    assert taken.flows() == {count.flow for count in task_valid}


def test_the_oldest_countable_minute_follows_the_clock_across_hours() -> None:
    """Kept for an hour, it must still be the whole hour a period and a day back at every moment
    (the config's flows have 30-day periods), in whatever order the moments come."""
    moments = [NOW, NOW.replace(minute=59, second=59), NOW.replace(hour=13, minute=0, second=0), NOW]
    moments += [NOW - timedelta(microseconds=1) - timedelta(minutes=30), NOW + timedelta(days=3)]
    for moment in moments:
        expected = (moment - timedelta(days=31)).replace(minute=0, second=0, microsecond=0)
        assert oldest_countable(CONFIG, moment) == expected == horizons(CONFIG, moment).hours


def test_a_groups_batches_are_cut_into_messages_by_count_and_by_items() -> None:
    def batches(count: int, items: int) -> list[dict]:
        return [{"batch_id": str(i), "counts": [{}] * items} for i in range(count)]

    small = _outcome_chunks(batches(names.MAX_OUTCOME_BATCHES_PER_MESSAGE * 2 + 1, 1))
    assert [len(chunk) for chunk in small] == [names.MAX_OUTCOME_BATCHES_PER_MESSAGE] * 2 + [1]
    large = _outcome_chunks(batches(9, 5000))
    assert [len(chunk) for chunk in large] == [4, 4, 1]
    assert all(sum(len(b["counts"]) for b in chunk) <= OUTCOME_ITEMS_PER_MESSAGE for chunk in large)
    assert [len(chunk) for chunk in _outcome_chunks(batches(2, OUTCOME_ITEMS_PER_MESSAGE + 1))] == [1, 1]
    assert _outcome_chunks([]) == []
