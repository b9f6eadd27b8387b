"""docs/guides/slack.md says what the code and the tests do: its app manifest is the one the tests
hold (with the intake's real path), the variables it names are the ones the tests' intake runs with
and relops reads, its commands are the CLI's, and its buttons are the ones the messages carry."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from relops.channels.slack_actions import LABELS
from relops.cli.users import clear_slack, set_slack
from relops.intake.slack import PATH
from relops.settings import Settings
from tests.support.slack import APP_MANIFEST, INTAKE_ENV

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "slack.md"
INTAKE = "https://relops-intake.example.com"


def test_the_app_manifest_shown_is_the_tests_and_sends_clicks_to_the_intakes_endpoint():
    shown = APP_MANIFEST.format(intake=INTAKE)
    assert f"```yaml\n{shown}```" in GUIDE.read_text()
    manifest = yaml.safe_load(shown)
    assert manifest["settings"]["interactivity"] == {"is_enabled": True, "request_url": INTAKE + PATH}
    assert manifest["oauth_config"]["scopes"]["bot"] == ["incoming-webhook"]


def test_every_variable_the_tests_intake_runs_with_is_in_the_guide_and_read_by_relops():
    text = GUIDE.read_text()
    read = {f.validation_alias for f in Settings.model_fields.values() if isinstance(f.validation_alias, str)}
    for name in INTAKE_ENV:
        assert name in read and f"`{name}" in text, name
    assert f"RELOPS_SLACK_RESPONSE_HOSTS={INTAKE_ENV['RELOPS_SLACK_RESPONSE_HOSTS']}" in text


def test_the_commands_shown_take_the_arguments_the_cli_takes():
    text = GUIDE.read_text()
    for command in (set_slack, clear_slack):
        shown = re.search(rf"relops users {command.name} ([a-z]+)( U[0-9A-Z]+)?", text)
        assert shown is not None, command.name
        assert len([p for p in command.params if p.param_type_name == "argument"]) == 1 + (shown.group(2) is not None)


def test_the_buttons_named_are_the_ones_the_messages_carry():
    table = [line for line in GUIDE.read_text().splitlines() if line.startswith("| **")]
    assert [re.match(r"\| \*\*(.+?)\*\*", line).group(1) for line in table] == list(LABELS.values())
