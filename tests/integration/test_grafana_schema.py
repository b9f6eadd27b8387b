"""docs/grafana/relops.json against Grafana's own published schema types (@grafana/schema, pinned
in tests/grafana_schema/package.json and installed by npm ci): the dashboard, every panel's options,
field config and overrides by its panel type, every query and transformation, and the variables,
type-checked by TypeScript. A copy with one wrong enum value must fail the same check, so a pass
means something. (Grafana itself is not packaged for these machines; the queries are run against a
real Prometheus by test_prometheus_metrics.py.)"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.debian_packages import ensure_commands

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CHECKER = ROOT / "tests" / "grafana_schema"
DASHBOARD = ROOT / "docs" / "grafana" / "relops.json"


@pytest.fixture(scope="module")
def checker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """(node's path, a copy of tests/grafana_schema with its locked packages installed)."""
    node_path, npm_path = ensure_commands((("node", "nodejs"), ("npm",)), ("nodejs", "npm"))
    workdir = tmp_path_factory.mktemp("grafana-schema")
    for name in ("package.json", "package-lock.json", "generate_check.mjs"):
        shutil.copy(CHECKER / name, workdir / name)
    installed = subprocess.run(
        [npm_path, "ci", "--no-audit", "--no-fund"], cwd=workdir, capture_output=True, text=True, timeout=300
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    yield node_path, workdir


def type_check(checker: tuple[str, Path], dashboard: Path) -> subprocess.CompletedProcess[str]:
    node_path, workdir = checker
    generated = subprocess.run(
        [node_path, "generate_check.mjs", str(dashboard)], cwd=workdir, capture_output=True, text=True, timeout=60
    )
    assert generated.returncode == 0, generated.stderr
    (workdir / "check.ts").write_text(generated.stdout)
    tsc = workdir / "node_modules" / "typescript" / "bin" / "tsc"
    options = ["--noEmit", "--strict", "--module", "esnext", "--moduleResolution", "bundler", "--target", "es2022"]
    return subprocess.run(
        [node_path, str(tsc), *options, "check.ts"], cwd=workdir, capture_output=True, text=True, timeout=300
    )


def test_the_dashboard_matches_grafanas_schema(checker: tuple[str, Path]) -> None:
    checked = type_check(checker, DASHBOARD)
    assert checked.returncode == 0, checked.stdout[-5000:]


def test_a_wrong_value_fails_the_check(checker: tuple[str, Path], tmp_path: Path) -> None:
    board = json.loads(DASHBOARD.read_text())
    table = next(panel for panel in board["panels"] if panel["type"] == "table")
    cell = next(
        prop
        for override in table["fieldConfig"]["overrides"]
        for prop in override["properties"]
        if prop["id"] == "custom.cellOptions"
    )
    cell["value"]["mode"] = "basicx"  # Grafana knows "basic" and "gradient"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(board))
    checked = type_check(checker, broken)
    assert checked.returncode != 0
    assert "basicx" in checked.stdout
