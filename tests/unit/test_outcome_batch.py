"""Validation of outcome batches: each bad item names its field and reason."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from relops.errors import InputRejected
from relops.slo.outcome_batch import (
    MAX_COUNT_PER_MINUTE,
    MAX_ITEMS_PER_BATCH,
    parse_counts,
    parse_item,
    validate_batch_id,
)

NOW = datetime(2026, 11, 27, 12, 0, 30, tzinfo=UTC)
OLDEST = NOW - timedelta(days=31)
FLOWS = {"checkout"}


def parse(items):
    return parse_counts(items, known_flows=FLOWS, now=NOW, oldest=OLDEST)


def rejection_of(item):
    valid, rejected = parse([item])
    assert not valid
    return rejected[0]


def test_a_valid_item_parses():
    valid, rejected = parse([{"flow": "checkout", "minute": "2026-11-27T11:59:00Z", "good": 3, "bad": 1}])
    assert not rejected
    assert valid[0].minute == datetime(2026, 11, 27, 11, 59, tzinfo=UTC)


def test_offsets_are_converted_to_utc():
    valid, _ = parse([{"flow": "checkout", "minute": "2026-11-27T13:59:00+02:00", "good": 1, "bad": 0}])
    assert valid[0].minute == datetime(2026, 11, 27, 11, 59, tzinfo=UTC)


@pytest.mark.parametrize(
    ("item", "field", "reason"),
    [
        ({"flow": "nope", "minute": "2026-11-27T11:59:00Z", "good": 1, "bad": 0}, "flow", "not a flow"),
        ({"flow": 3, "minute": "2026-11-27T11:59:00Z", "good": 1, "bad": 0}, "flow", "string"),
        ({"minute": "2026-11-27T11:59:00Z", "good": 1, "bad": 0}, "flow", "missing"),
        ({"flow": "checkout", "minute": "2026-11-27T11:59:00", "good": 1, "bad": 0}, "minute", "UTC offset"),
        (
            {"flow": "checkout", "minute": "2026-11-27T11:59:01Z", "good": 1, "bad": 0},
            "minute",
            "whole minute",
        ),
        ({"flow": "checkout", "minute": "2026-11-27T12:10:00Z", "good": 1, "bad": 0}, "minute", "future"),
        ({"flow": "checkout", "minute": "2025-01-01T00:00:00Z", "good": 1, "bad": 0}, "minute", "older"),
        ({"flow": "checkout", "minute": 1700000000, "good": 1, "bad": 0}, "minute", "ISO-8601"),
        ({"flow": "checkout", "minute": "2026-11-27T11:59:00Z", "good": -1, "bad": 0}, "good", "negative"),
        ({"flow": "checkout", "minute": "2026-11-27T11:59:00Z", "good": 1, "bad": 1.5}, "bad", "integer"),
        ({"flow": "checkout", "minute": "2026-11-27T11:59:00Z", "good": True, "bad": 0}, "good", "integer"),
        ({"flow": "checkout", "minute": "2026-11-27T11:59:00Z", "good": 10**12, "bad": 0}, "good", "exceeds"),
        (["checkout"], "item", "object"),
    ],
)
def test_bad_items_name_field_and_reason(item, field, reason):
    rejection = rejection_of(item)
    assert rejection.field == field
    assert reason in rejection.reason
    assert rejection.item_index == 0


def test_valid_items_survive_their_bad_neighbours():
    valid, rejected = parse(
        [
            {"flow": "nope", "minute": "2026-11-27T11:59:00Z", "good": 1, "bad": 0},
            {"flow": "checkout", "minute": "2026-11-27T11:58:00Z", "good": 2, "bad": 0},
        ]
    )
    assert [v.good for v in valid] == [2]
    assert [r.item_index for r in rejected] == [0]


def test_batch_level_errors():
    with pytest.raises(InputRejected, match="counts: must be a list"):
        parse("x")
    with pytest.raises(InputRejected, match="more than"):
        parse([{}] * (MAX_ITEMS_PER_BATCH + 1))
    for bad in (None, "", "   ", 12, "x" * 201, "a\x00b", "a\nb"):
        with pytest.raises(InputRejected):
            validate_batch_id(bad)


def test_excerpt_of_a_huge_item_is_truncated():
    rejection = rejection_of({"flow": "x" * 10_000, "minute": "", "good": 0, "bad": 0})
    assert len(rejection.excerpt) < 400


_values = st.one_of(
    st.sampled_from(["checkout", "login", "2026-11-27T11:59:00Z", "2026-11-27T11:59:30Z", "2026-12-30T00:00:00Z"]),
    st.integers(min_value=-2, max_value=2),
    st.sampled_from([True, 1.0, None, 10**10, [], {}]),
)
_items = st.one_of(
    st.fixed_dictionaries(
        {"flow": _values, "minute": _values, "good": _values, "bad": _values},
        optional={"extra": _values},
    ),
    st.dictionaries(st.sampled_from(["flow", "minute", "good"]), _values, max_size=3),
    _values,
)


#: Items that are mostly valid, so that whole batches of them are, too (the quick path's case).
_well_formed = st.fixed_dictionaries(
    {
        "flow": st.sampled_from(["checkout", "checkout", "login"]),
        "minute": st.sampled_from(
            ["2026-11-27T11:59:00Z", "2026-11-27T12:59:00+01:00", "2026-11-27T11:59:00", "2026-11-27T12:06:00Z"]
        ),
        "good": st.sampled_from([0, 7, MAX_COUNT_PER_MINUTE, MAX_COUNT_PER_MINUTE + 1, True]),
        "bad": st.integers(min_value=0, max_value=3),
    }
)


@given(st.lists(st.one_of(_well_formed, _well_formed, _items), max_size=12))
def test_the_quick_path_accepts_and_rejects_exactly_what_each_item_check_does(items):
    """parse_counts takes a wholly valid batch at once; item by item, parse_item is the reference."""
    expected_valid, expected_rejected = [], []
    for index, item in enumerate(items):
        try:
            expected_valid.append(parse_item(item, FLOWS, NOW, OLDEST))
        except InputRejected as exc:
            expected_rejected.append((index, exc.field, exc.reason))
    valid, rejected = parse(items)
    assert valid == expected_valid
    assert [(r.item_index, r.field, r.reason) for r in rejected] == expected_rejected
