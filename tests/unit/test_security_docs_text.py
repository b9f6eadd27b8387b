"""What the guides tell operators about the dashboard's headers (docs/guides/security.md) and about
keys in ping URLs (docs/guides/integrate.md) matches what relops does."""

from __future__ import annotations

import re
from pathlib import Path

from relops.web.protection import SECURITY_HEADERS

GUIDES = Path(__file__).parents[2] / "docs" / "guides"
SECURITY = (GUIDES / "security.md").read_text()
INTEGRATE = (GUIDES / "integrate.md").read_text()


def test_the_security_guide_states_the_content_security_policy_that_is_sent() -> None:
    match = re.search(r"`Content-Security-Policy: ([^`]+)`", SECURITY)
    assert match, "the security guide names the Content-Security-Policy"
    stated = " ".join(match.group(1).split())
    assert stated == SECURITY_HEADERS["Content-Security-Policy"]


def test_the_integration_guide_warns_where_a_ping_url_key_travels_and_what_key_to_use() -> None:
    crontab = INTEGRATE[: INTEGRATE.index("RELOPS=https://relops.example/api/v1/ping/")]
    advice = crontab[crontab.rindex("A crontab") :]
    for place in ("crontab", "shell history", "proxy"):
        assert place in advice, place
    assert re.search(r"--scope cron\s+--jobs ", advice), "a cron-only key limited to one job"
