"""``relops slo import`` and ``relops slo export``: files in, files out, refusals said, exit codes."""

from __future__ import annotations

import tomllib
from pathlib import Path

from click.testing import CliRunner

from relops.cli import cli
from relops.config.loader import load_config

SLOTH = Path(__file__).resolve().parents[1] / "data" / "sloth" / "examples"


def test_import_writes_flows_that_load_as_a_relops_config(tmp_path: Path) -> None:
    output = tmp_path / "flows.toml"
    result = CliRunner().invoke(
        cli,
        [
            "slo",
            "import",
            str(SLOTH / "getting-started.yml"),
            str(SLOTH / "raw-home-wifi.yml"),
            "--output",
            str(output),
        ],
    )

    assert result.exit_code == 0, result.output
    assert "refused: " in result.stderr and "slos[0].sli.raw" in result.stderr
    assert "1 flow(s) imported, 1 refused" in result.stderr
    config = load_config(output)
    assert [(flow.name, str(flow.objective_percent)) for flow in config.flows] == [("requests-availability", "99.9")]
    assert tomllib.loads(output.read_text())["flows"][0]["prometheus"] == {
        "bad": 'sum(http_request_duration_seconds_count{job="myservice",code=~"(5..|429)"})',
        "total": 'sum(http_request_duration_seconds_count{job="myservice"})',
    }


def test_import_with_nothing_to_write_fails_and_says_what_was_refused() -> None:
    result = CliRunner().invoke(cli, ["slo", "import", str(SLOTH / "raw-home-wifi.yml")])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert "raw-home-wifi.yml: Sloth service home-wifi SLO wifi-client-satisfaction: slos[0].sli.raw" in result.stderr
    assert "no flow to write: 1 refused" in result.stderr


def test_strict_import_writes_nothing_when_anything_is_refused(tmp_path: Path) -> None:
    output = tmp_path / "flows.toml"
    result = CliRunner().invoke(
        cli,
        ["slo", "import", "--strict", "--output", str(output), str(SLOTH / "kubernetes-apiserver.yml")],
    )

    assert result.exit_code == 1
    assert not output.exists()
    assert "slos[1].sli.events.error_query" in result.stderr


def test_import_of_a_missing_or_binary_file_says_which(tmp_path: Path) -> None:
    binary = tmp_path / "image.yaml"
    binary.write_bytes(b"\xff\xd8\xff")
    missing = CliRunner().invoke(cli, ["slo", "import", str(tmp_path / "nowhere.yaml")])
    undecodable = CliRunner().invoke(cli, ["slo", "import", str(binary)])

    assert missing.exit_code == 1 and "nowhere.yaml: no such file" in missing.stderr
    assert undecodable.exit_code == 1 and "image.yaml: not UTF-8 text" in undecodable.stderr


def test_export_then_import_gives_the_config_flows_back(tmp_path: Path) -> None:
    config = tmp_path / "relops.toml"
    config.write_text(
        """\
[[flows]]
name = "checkout"
objective_percent = 99.9
period_days = 28
labels = { team = "payments", service = "shop" }
prometheus = { good = 'sum(http_requests_total{code!~"5.."})', total = 'sum(http_requests_total)' }

[[flows]]
name = "signup"
objective_percent = 99.5
"""
    )
    exported = tmp_path / "slos.yaml"
    export = CliRunner().invoke(
        cli, ["slo", "export", "--format", "openslo", "--config", str(config), "--output", str(exported)]
    )
    assert export.exit_code == 0, export.output
    assert "target: 0.999\n" in exported.read_text()
    assert "type: relops" in exported.read_text()
    assert "note: flow signup: no 'service' label, so no spec.service, which OpenSLO requires" in export.stderr
    assert "flow checkout" not in export.stderr

    imported = tmp_path / "flows.toml"
    back = CliRunner().invoke(cli, ["slo", "import", str(exported), "--output", str(imported)])
    assert back.exit_code == 0, back.output
    assert load_config(imported).flows == load_config(config).flows
