"""The Apprise message: title and body from the notification, Markdown escaped, grouping counted
beyond max_full, and every bound held."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from relops.channels.apprise_format import (
    MAX_BODY_CHARS,
    MIN_BODY_CHARS,
    escape_markdown,
    render_apprise,
)
from relops.channels.base import Notification
from tests.samples import CONTEXT, DASHBOARD, RUNBOOK, notification, slo_details

SUMMARY = "checkout burning its error budget at 20.0x over 1h: 20 bad of 1000 events in the last 1h."
LABELS = {"flow": "checkout", "severity": "critical", "team": "payments"}


def alert(**changes: object) -> Notification:
    return notification(**{"summary": SUMMARY, "labels": LABELS, **changes})


def many(count: int, **changes: object) -> list[Notification]:
    start = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    return [
        alert(
            fingerprint=f"slo:flow-{i:04d}",
            severity="critical" if i % 3 else "warning",
            title=f"CRITICAL: flow-{i:04d} burning",
            details=slo_details(f"flow-{i:04d}"),
            occurred_at=(start + timedelta(seconds=i)).isoformat(),
            **changes,
        )
        for i in range(count)
    ]


def test_one_alert_has_its_severity_title_summary_labels_runbook_and_dashboard_in_markdown() -> None:
    message = render_apprise([alert()], CONTEXT, markdown=True)
    assert message.title == "🔴 CRITICAL: checkout burning its error budget at 20.0x over 1h"
    assert message.notify_type == "failure"
    assert message.markdown
    lines = message.body.splitlines()
    assert lines[0] == "**checkout burning its error budget at 20.0x over 1h**"
    assert lines[1] == escape_markdown(SUMMARY)
    assert "- 1h burn rate: 20.0x \\(critical\\), 20 bad of 1,000" in lines
    assert "- Budget remaining: 70.0%" in lines
    assert "- Labels: flow=checkout, severity=critical, team=payments" in lines
    assert lines[-1] == f"[Runbook]({RUNBOOK}) · [Dashboard]({DASHBOARD}) · relops · slo:checkout"


def test_plain_text_carries_the_same_facts_without_markup() -> None:
    message = render_apprise([alert()], CONTEXT, markdown=False)
    assert not message.markdown
    assert "**" not in message.body and "\\" not in message.body
    assert "- 1h burn rate: 20.0x (critical), 20 bad of 1,000" in message.body
    assert message.body.splitlines()[-1] == f"Runbook: {RUNBOOK} · Dashboard: {DASHBOARD} · relops · slo:checkout"


@pytest.mark.parametrize(
    ("kind", "severity", "notify_type", "emoji"),
    [
        ("firing", "critical", "failure", "🔴"),
        ("firing", "warning", "warning", "🟠"),
        ("resolved", "critical", "success", "✅"),
        ("notice", "warning", "info", "🔕"),
    ],
)
def test_the_notification_type_follows_the_severity_and_kind(
    kind: str, severity: str, notify_type: str, emoji: str
) -> None:
    message = render_apprise([alert(kind=kind, severity=severity)], CONTEXT, markdown=True)
    assert message.notify_type == notify_type
    assert message.title.startswith(emoji + " ")


def test_event_text_cannot_forge_links_or_markup() -> None:
    hostile = alert(
        title="CRITICAL: **[click me](http://evil.example)** <b>x</b>",
        summary="`rm -rf` _under_ # heading | ~strike~ \\",
        runbook_url="javascript:alert(1)",
    )
    message = render_apprise([hostile], CONTEXT, markdown=True)
    assert "[click me](http" not in message.body
    assert "\\*\\*\\[click me\\]\\(http://evil.example\\)\\*\\*" in message.body
    assert "\\`rm -rf\\` \\_under\\_ \\# heading \\| \\~strike\\~ \\\\" in message.body
    assert "](javascript" not in message.body
    assert "Runbook: javascript:alert\\(1\\)" in message.body


def test_control_characters_never_reach_the_target() -> None:
    message = render_apprise([alert(summary="bell\x07 escape\x1b[31m")], CONTEXT, markdown=False)
    assert "\x07" not in message.body and "\x1b" not in message.body


def test_a_group_shows_the_worst_max_full_in_full_and_counts_the_rest() -> None:
    notifications = many(12)
    message = render_apprise(notifications, dataclasses.replace(CONTEXT, max_full=3), markdown=True)
    assert message.title == "🔴 12 alerts: 8 critical, 4 warning"
    shown = [line for line in message.body.splitlines() if line.startswith("🔴 **") or line.startswith("🟠 **")]
    assert len(shown) == 3
    assert all(line.startswith("🔴") for line in shown)  # worst first
    assert message.body.splitlines()[-1] == (
        f"**…and 9 more: 5 critical, 4 warning** — [see the dashboard]({DASHBOARD})"
    )


def test_a_group_too_long_for_the_target_shows_fewer_in_full_and_counts_them() -> None:
    notifications = many(40)
    message = render_apprise(
        notifications, dataclasses.replace(CONTEXT, max_full=40), markdown=False, max_body_chars=2000
    )
    assert len(message.body) <= 2000
    last = message.body.splitlines()[-1]
    assert last.startswith("…and ") and "more:" in last
    shown = int(last.split()[1])
    assert 0 < 40 - shown < 40


@pytest.mark.parametrize("markdown", [True, False])
@pytest.mark.parametrize("limit", [MIN_BODY_CHARS, 500, 2000, 32768])
def test_every_body_holds_the_targets_limit_and_ours(markdown: bool, limit: int) -> None:
    huge = alert(summary="x" * 50_000, title="CRITICAL: " + "t" * 5000, labels={f"k{i}": "v" * 50 for i in range(100)})
    for notifications in ([huge], [huge] * 30, many(200)):
        message = render_apprise(notifications, CONTEXT, markdown=markdown, max_body_chars=limit)
        assert len(message.body) <= min(limit, MAX_BODY_CHARS)
        assert len(message.title) <= 250
        assert message.body.strip()


def test_a_cut_never_leaves_a_dangling_escape() -> None:
    message = render_apprise([alert(summary="*" * 10_000)], CONTEXT, markdown=True, max_body_chars=MIN_BODY_CHARS)
    body = message.body.rstrip("…")
    assert (len(body) - len(body.rstrip("\\"))) % 2 == 0


def test_a_target_without_titles_gets_the_title_as_the_first_line() -> None:
    message = render_apprise([alert()], CONTEXT, markdown=True, max_title_chars=0)
    assert message.title == ""
    assert message.body.startswith("**🔴 CRITICAL: checkout burning its error budget at 20.0x over 1h**\n\n")


def test_a_short_title_limit_is_held() -> None:
    message = render_apprise([alert()], CONTEXT, markdown=True, max_title_chars=20)
    assert len(message.title) == 20 and message.title.endswith("…")


def test_a_message_needs_a_notification() -> None:
    with pytest.raises(ValueError, match="at least one"):
        render_apprise([], CONTEXT, markdown=True)
