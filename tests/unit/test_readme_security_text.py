"""What README tells operators about the dashboard's headers and about keys in ping URLs matches
what relops does."""

from __future__ import annotations

import re
from pathlib import Path

from relops.web.protection import SECURITY_HEADERS

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_the_readme_states_the_content_security_policy_that_is_sent() -> None:
    match = re.search(r"`Content-Security-Policy: ([^`]+)`", README)
    assert match, "README names the Content-Security-Policy"
    stated = " ".join(match.group(1).split())
    assert stated == SECURITY_HEADERS["Content-Security-Policy"]


def test_the_readme_warns_where_a_ping_url_key_travels_and_what_key_to_use() -> None:
    crontab = README[: README.index("RELOPS=https://relops.example/api/v1/ping/")]
    advice = crontab[crontab.rindex("A crontab") :]
    for place in ("crontab", "shell history", "proxy"):
        assert place in advice, place
    assert re.search(r"--scope cron\s+--jobs ", advice), "a cron-only key limited to one job"
