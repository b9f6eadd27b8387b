"""docs/guides/pagerduty.md shows the receiver the PagerDuty integration tests run, names the
environment variables the code reads and the answers the intake gives."""

from __future__ import annotations

import tomllib
from pathlib import Path

from relops.alerting.pagerduty_webhook import ACTIONS
from relops.channels.pagerduty_format import EVENTS_URL
from relops.config import parse_config
from relops.settings import Settings
from tests.support.pagerduty import RECEIVER_CONFIG

GUIDE = Path(__file__).parents[2] / "docs" / "guides" / "pagerduty.md"


def test_the_receiver_shown_is_the_one_the_tests_run() -> None:
    assert f"```toml\n{RECEIVER_CONFIG.lstrip()}```" in GUIDE.read_text()


def test_the_receiver_shown_is_a_valid_config() -> None:
    config = parse_config(tomllib.loads(RECEIVER_CONFIG), "pagerduty.md")
    assert config.receivers["pagerduty"].routing_key_env == "PAGERDUTY_ROUTING_KEY"


def test_the_guide_names_what_the_code_reads() -> None:
    page = GUIDE.read_text()
    variable = Settings.model_fields["pagerduty_webhook_secrets"].validation_alias
    assert f"`{variable}`" in page
    assert EVENTS_URL in page
    assert "/api/v1/pagerduty/webhooks" in page
    for event_type in ACTIONS:
        assert f"**{event_type}**" in page
