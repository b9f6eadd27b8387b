"""Hostile payloads for every public task's validation: only a clear rejection, never a crash."""

import contextlib
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from relops.alert_event import validate_alert_event
from relops.cron_event import parse_cron_run
from relops.errors import InputRejected
from relops.outcome_batch import parse_counts, validate_batch_id

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
        validate_alert_event(payload)
    except InputRejected as exc:
        assert exc.field and exc.reason


@settings(max_examples=150, deadline=None)
@given(payloads)
def test_cron_runs(payload):
    try:
        parse_cron_run(payload, now=NOW, result_max_bytes=16384)
    except InputRejected as exc:
        assert exc.field and exc.reason


@settings(max_examples=150, deadline=None)
@given(json_values, st.lists(payloads, max_size=20) | json_values)
def test_outcome_batches(batch_id, counts):
    try:
        validate_batch_id(batch_id)
        valid, rejected = parse_counts(counts, known_flows={"checkout"}, now=NOW, oldest=NOW - timedelta(days=31))
    except InputRejected as exc:
        assert exc.field and exc.reason
    else:
        assert len(valid) + len(rejected) == len(counts)
        assert all(r.field and r.reason and len(r.excerpt) < 400 for r in rejected)


def test_deeply_nested_json_is_rejected_not_a_crash():
    hostile = deep(5000)
    for call in (
        lambda: validate_alert_event({"details": hostile}),
        lambda: parse_cron_run(
            {"name": "j", "run_id": "r", "status": "success", "at": NOW.isoformat(), "result": hostile},
            now=NOW,
            result_max_bytes=16384,
        ),
        lambda: parse_counts([hostile], known_flows={"checkout"}, now=NOW, oldest=NOW - timedelta(days=31)),
    ):
        with contextlib.suppress(InputRejected):
            call()
