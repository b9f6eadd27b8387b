"""Hostile payloads for every public task's validation: a clear rejection naming a field, or an
accepted value that validates again to itself; never a crash."""

from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relops.alerting.events import validate_alert_event
from relops.cron.events import parse_cron_run
from relops.errors import InputRejected
from relops.slo.outcome_batch import parse_counts, validate_batch_id

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=500, max_size=3000),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=20), inner, max_size=5),
    max_leaves=30,
)
keys = st.sampled_from(
    [
        "flow",
        "minute",
        "good",
        "bad",
        "dedup_key",
        "fingerprint",
        "severity",
        "source",
        "title",
        "summary",
        "details",
        "runbook_url",
        "occurred_at",
        "status",
        "name",
        "run_id",
        "at",
        "duration_ms",
        "result",
        "error",
        "extra",
    ]
)
payloads = st.dictionaries(keys, json_values, max_size=12)


def deep(depth: int) -> object:
    value: object = "bottom"
    for _ in range(depth):
        value = {"x": [value]}
    return value


@settings(max_examples=150, deadline=None)
@given(payloads)
def test_alert_events(payload):
    try:
        event = validate_alert_event(payload)
    except InputRejected as exc:
        assert exc.field and exc.reason
        return
    assert event.severity in ("warning", "critical", "ok") and event.status in ("firing", "resolved")
    assert validate_alert_event(event.as_kwargs()) == event


@settings(max_examples=150, deadline=None)
@given(payloads)
def test_cron_runs(payload):
    try:
        run = parse_cron_run(payload, now=NOW, result_max_bytes=16384)
    except InputRejected as exc:
        assert exc.field and exc.reason
        return
    assert run.status in ("started", "success", "failure") and run.at <= NOW + timedelta(minutes=5)
    again = {**asdict(run), "at": run.at.isoformat()}
    assert parse_cron_run(again, now=NOW, result_max_bytes=16384) == run


@settings(max_examples=150, deadline=None)
@given(json_values, st.lists(payloads, max_size=20) | json_values)
def test_outcome_batches(batch_id, counts):
    try:
        validate_batch_id(batch_id)
        valid, rejected = parse_counts(counts, known_flows={"checkout"}, now=NOW, oldest=NOW - timedelta(days=31))
    except InputRejected as exc:
        assert exc.field and exc.reason
        return
    assert len(valid) + len(rejected) == len(counts)
    assert all(r.field and r.reason and len(r.excerpt) < 400 for r in rejected)
    assert all(c.flow == "checkout" and c.good >= 0 and c.bad >= 0 for c in valid)


def test_deeply_nested_json_is_rejected_naming_its_field_not_a_crash():
    hostile = deep(5000)
    event = {
        "dedup_key": "k",
        "fingerprint": "k",
        "severity": "critical",
        "source": "slo",
        "title": "t",
        "summary": "",
        "details": hostile,
        "runbook_url": "",
        "occurred_at": NOW.isoformat(),
    }
    with pytest.raises(InputRejected) as caught:
        validate_alert_event(event)
    assert (caught.value.field, caught.value.reason) == ("details", "is not JSON-serialisable")
    run = {"name": "j", "run_id": "r", "status": "success", "at": NOW.isoformat(), "result": hostile}
    with pytest.raises(InputRejected) as caught:
        parse_cron_run(run, now=NOW, result_max_bytes=16384)
    assert (caught.value.field, caught.value.reason) == ("result", "is not JSON-serialisable")
    valid, [rejection] = parse_counts([hostile], known_flows={"checkout"}, now=NOW, oldest=NOW - timedelta(days=31))
    assert valid == [] and (rejection.item_index, rejection.field, rejection.reason) == (0, "flow", "is missing")
