"""Flows as ``[[flows]]`` entries of a relops config file (TOML), written by tomli-w. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import tomli_w

from relops.config import FlowConfig


def flows_toml(flows: Iterable[FlowConfig]) -> str:
    """The flows as TOML; only the keys that differ from relops' defaults, besides name, objective
    and period, so the entries read as written by hand."""
    return tomli_w.dumps({"flows": [flow_entry(flow) for flow in flows]})


def flow_entry(flow: FlowConfig) -> dict[str, Any]:
    entry = flow.model_dump(mode="python", exclude_defaults=True, exclude_none=True)
    ordered: dict[str, Any] = {
        "name": flow.name,
        "objective_percent": flow.objective_percent,
        "period_days": flow.period_days,
    }
    for key, value in entry.items():
        ordered.setdefault(key, value)
    if flow.prometheus is not None:
        # total last: the entry reads good (or bad) over total.
        source = flow.prometheus.model_dump(mode="python", exclude_defaults=True, exclude_none=True)
        ordered["prometheus"] = {key: source[key] for key in sorted(source, key=lambda key: key == "total")}
    if flow.depends_on:
        ordered["depends_on"] = list(flow.depends_on)
    return ordered
