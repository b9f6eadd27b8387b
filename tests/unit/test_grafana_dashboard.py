"""docs/grafana/relops.json as Grafana imports it: the panels fit the grid without overlapping, every
query names the dashboard's Prometheus variable, every variable a query uses is defined, and the
provisioning example points at it. (tests/integration/test_prometheus_metrics.py runs every query
against a real Prometheus scraping a real relops.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

GRAFANA = Path(__file__).resolve().parents[2] / "docs" / "grafana"
#: Grafana's own variables (its docs: "Global variables"), set by the panel's time range.
GLOBAL_VARIABLES = {"__rate_interval", "__interval", "__range"}
#: The panel types the dashboard uses, all built into Grafana (no plugin to install).
BUILT_IN = {"row", "stat", "table", "timeseries", "state-timeline"}


def dashboard() -> dict[str, Any]:
    return json.loads((GRAFANA / "relops.json").read_text())


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def test_it_is_a_dashboard_with_a_stable_uid_and_unique_panel_ids():
    board = dashboard()
    assert board["uid"] == "relops" and board["title"] == "relops"
    assert isinstance(board["schemaVersion"], int)
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    assert {panel["type"] for panel in board["panels"]} <= BUILT_IN


def test_panels_fit_the_grid_and_do_not_overlap():
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard()["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_every_query_uses_the_prometheus_variable_and_only_defined_variables():
    board = dashboard()
    defined = {variable["name"] for variable in board["templating"]["list"]}
    assert {"datasource", "flow"} <= defined
    source = next(v for v in board["templating"]["list"] if v["name"] == "datasource")
    assert source["type"] == "datasource" and source["query"] == "prometheus"
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
            used = set(re.findall(r"\$\{?(\w+)", target["expr"]))
            assert used <= defined | GLOBAL_VARIABLES, (panel["title"], used)


def test_the_sections_the_guide_lists_are_there():
    rows = [panel["title"] for panel in dashboard()["panels"] if panel["type"] == "row"]
    assert rows == [
        "SLO overview: every flow, worst first",
        "Flow: $flow",
        "Cron jobs",
        "Breakers",
        "relops itself",
    ]


def test_the_provisioning_example_is_valid_yaml_for_grafana():
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "relops.yaml").read_text())
    assert provider["apiVersion"] == 1
    assert provider["providers"][0]["type"] == "file"
    source = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text())
    assert source["datasources"][0]["type"] == "prometheus"
