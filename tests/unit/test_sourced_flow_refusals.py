"""A flow that takes its counts from Prometheus refuses pushed outcomes, by the worker's ingest and
by the HTTP intake alike, saying why; other flows' items in the same batch are taken as before."""

from __future__ import annotations

import json

import pytest

from relops.config import parse_config
from relops.intake.reports import Refused, outcome_batch
from relops.slo.outcome_batch import parse_counts
from relops.timeutil import floor_minute, utcnow

CONFIG = parse_config(
    {
        "flows": [
            {"name": "pushed", "objective_percent": 99.0},
            {
                "name": "pulled",
                "objective_percent": 99.0,
                "prometheus": {"good": "sum(requests_total{code!~'5..'})", "total": "sum(requests_total)"},
            },
        ]
    },
    "test.toml",
)
NOW = utcnow()
MINUTE = floor_minute(NOW).isoformat()


def test_the_worker_refuses_the_sourced_flows_items_and_takes_the_others():
    counts = [
        {"flow": "pushed", "minute": MINUTE, "good": 5, "bad": 1},
        {"flow": "pulled", "minute": MINUTE, "good": 5, "bad": 1},
    ]
    items, rejections = parse_counts(
        counts,
        known_flows=CONFIG.pushed_flows_by_name,
        refused_flows=CONFIG.sourced_flow_refusals,
        now=NOW,
        oldest=NOW.replace(year=NOW.year - 1),
    )
    assert [item.flow for item in items] == ["pushed"]
    assert [(r.item_index, r.field) for r in rejections] == [(1, "flow")]
    assert "takes its counts from Prometheus" in rejections[0].reason
    assert "count its events twice" in rejections[0].reason


def test_the_intake_refuses_a_batch_naming_a_sourced_flow_with_the_reason():
    body = json.dumps({"counts": [{"flow": "pulled", "minute": MINUTE, "good": 1, "bad": 0}]}).encode()
    with pytest.raises(Refused) as refused:
        outcome_batch(body, CONFIG, NOW)
    assert refused.value.status == 422
    assert "takes its counts from Prometheus" in str(refused.value.reason)
    fine = json.dumps({"counts": [{"flow": "pushed", "minute": MINUTE, "good": 1, "bad": 0}]}).encode()
    assert outcome_batch(fine, CONFIG, NOW).flows() == frozenset({"pushed"})
