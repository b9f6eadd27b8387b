"""docs/guides/webhooks.md and docs/guides/teams.md show the receivers the integration tests run, and
the JSON Schema they publish is the one the tests validate relops' JSON against."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import jsonschema

from relops.channels.registry import check_receivers
from relops.config import parse_config
from tests.integration.test_teams import RECEIVER as TEAMS_RECEIVER
from tests.integration.test_webhook_formats import RECEIVERS as WEBHOOK_RECEIVERS

DOCS = Path(__file__).parents[2] / "docs"


def test_the_webhooks_guide_shows_the_receivers_the_tests_run():
    assert f"```toml\n{WEBHOOK_RECEIVERS.lstrip()}```" in (DOCS / "guides" / "webhooks.md").read_text()


def test_the_teams_guide_shows_the_receiver_the_tests_run():
    assert f"```toml\n{TEAMS_RECEIVER.lstrip()}```" in (DOCS / "guides" / "teams.md").read_text()


def test_the_receivers_shown_pass_the_config_check():
    for receivers, names in ((WEBHOOK_RECEIVERS, ["oncall", "home"]), (TEAMS_RECEIVER, ["teams-oncall"])):
        data = tomllib.loads(receivers) | {"route": {"receivers": names}}
        check_receivers(parse_config(data, "guide.toml"), "guide.toml")


def test_the_published_json_schema_is_a_valid_schema_the_guide_links():
    schema = json.loads((DOCS / "reference" / "relops-webhook-v1.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "(../reference/relops-webhook-v1.schema.json)" in (DOCS / "guides" / "webhooks.md").read_text()
