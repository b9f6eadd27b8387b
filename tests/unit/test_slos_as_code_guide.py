"""docs/guides/slos-as-code.md shows what relops writes: its examples are checked against the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from relops.config.loader import parse_config
from relops.slo_files.flows_toml import flows_toml
from relops.slo_files.importing import import_files
from relops.slo_files.openslo_out import export_openslo

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guides" / "slos-as-code.md"
GETTING_STARTED = ROOT / "tests" / "data" / "sloth" / "examples" / "getting-started.yml"


def _example(name: str) -> str:
    match = re.search(rf"<!-- example: {name} -->\n```[a-z]*\n(.*?)```", GUIDE.read_text(), re.DOTALL)
    assert match is not None, f"no example {name!r} in {GUIDE}"
    return match.group(1)


def test_the_guide_shows_what_sloths_getting_started_imports_to() -> None:
    result = import_files([(GETTING_STARTED.name, GETTING_STARTED.read_text())])
    assert _example("sloth-import") == flows_toml(result.flows)


def test_the_guide_shows_what_its_config_exports_to_and_it_imports_back() -> None:
    flows = parse_config(tomllib.loads(_example("export-config")), "guide").flows
    exported = _example("export-openslo")

    assert exported == export_openslo(flows)
    assert import_files([("guide", exported)]).flows == list(flows)
