"""Slack Block Kit messages: shape, grouping, Slack's limits, and escaping of event text."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from relops.channels.base import MessageContext, Notification
from relops.channels.slack_format import (
    MAX_BLOCKS,
    MAX_FIELD_CHARS,
    MAX_HEADER_CHARS,
    MAX_MESSAGE_TEXT,
    MAX_SECTION_CHARS,
    MAX_SHOWN,
    block_text_length,
    escape,
    render_slack,
    slack_length,
    truncate_escaped,
)
from relops.config import DEFAULT_WINDOWS, FlowConfig
from relops.slo.burn_alerts import slo_alert
from relops.slo.burnrate import Counts, evaluate_flow, objective_fraction
from tests.samples import CONTEXT, DASHBOARD, RUNBOOK, notification, slo_details

SUMMARY = (
    "checkout burning its error budget at 20.0x over 1h: 20 bad of 1000 events in the last 1h. "
    "Objective 99.9%, budget remaining 70.0%. Budget exhausted in about 1512 min at the current rate."
)


def alert(**changes: Any) -> Notification:
    return notification(**{"summary": SUMMARY, **changes})


def many(critical: int, warning: int, resolved: int = 0) -> list[Notification]:
    """Alerts for distinct flows, interleaved so the renderer has to sort them."""
    out = []
    start = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    kinds = (
        [("firing", "critical")] * critical + [("firing", "warning")] * warning + [("resolved", "critical")] * resolved
    )
    for i, (kind, severity) in enumerate(kinds):
        flow = f"flow-{i:04d}"
        out.append(
            alert(
                fingerprint=f"slo:{flow}",
                kind=kind,
                severity=severity,
                title=f"{severity.upper()}: {flow} burning",
                details=slo_details(flow),
                # warnings and resolutions are the oldest: order must still put critical first
                occurred_at=(start + timedelta(seconds=i if severity == "critical" else -i)).isoformat(),
            )
        )
    return out[::-1]


def texts(block: dict[str, Any]) -> list[str]:
    return [f["text"] for f in block.get("fields", [])]


def all_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in all_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in all_strings(v)]
    return []


def text_objects(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        found = [value] if value.get("type") in ("mrkdwn", "plain_text") else []
        return found + [t for v in value.values() for t in text_objects(v)]
    if isinstance(value, list):
        return [t for v in value for t in text_objects(v)]
    return []


def test_a_critical_slo_alert_in_full():
    payload = render_slack([alert()], CONTEXT)

    assert payload["text"] == "🔴 CRITICAL: checkout burning its error budget at 20.0x over 1h"
    assert payload["unfurl_links"] is False
    header, section, context = payload["blocks"]
    assert header == {"type": "header", "text": {"type": "plain_text", "text": "🔴 CRITICAL · checkout", "emoji": True}}
    assert section["type"] == "section"
    assert section["text"]["text"] == f"*checkout burning its error budget at 20.0x over 1h*\n{SUMMARY}"
    assert texts(section) == [
        "*1h burn rate*\n20.0x (critical)",
        "*6h burn rate*\nno data",
        "*24h burn rate*\n2.0x (warning)",
        "*Budget remaining*\n70.0%",
        "*Time to exhaustion*\n1d 1h",
        "*Occurred*\n2026-11-27 12:31 UTC",
        "*Source*\nslo",
    ]
    assert context["type"] == "context"
    assert [e["text"] for e in context["elements"]] == [
        f"📖 <{RUNBOOK}|Runbook>",
        "📊 <https://grafana.example.com/d/relops?orgId=1&amp;refresh=30s|Dashboard>",
        "relops · slo:checkout",
    ]
    # mrkdwn is verbatim everywhere: Slack must not auto-link or auto-mention event text
    assert all(t.get("verbatim") is True for t in text_objects(payload["blocks"]) if t["type"] == "mrkdwn")


def test_the_event_the_evaluator_publishes_renders_the_same_numbers():
    flow = FlowConfig(name="checkout", objective_percent=99.9)
    evaluation = evaluate_flow(
        flow="checkout",
        objective=objective_fraction(flow.objective_percent),
        period_s=flow.period_s,
        rules=DEFAULT_WINDOWS,
        window_counts={"1h": Counts(good=980, bad=20)},
        confirm_counts={},
        period_counts=Counts(good=999_700, bad=300),
        budget_min_events=30,
    )
    event = slo_alert(evaluation, flow, datetime(2026, 11, 27, 12, 31, tzinfo=UTC), RUNBOOK)
    n = Notification(
        fingerprint=event.fingerprint,
        kind="firing",
        severity=event.severity,
        source=event.source,
        title=event.title,
        summary=event.summary,
        details=json.loads(json.dumps(event.details)),  # as it arrives through the queue
        runbook_url=event.runbook_url,
        occurred_at=event.occurred_at,
    )
    payload = render_slack([n], CONTEXT)
    fields = texts(payload["blocks"][1])
    assert fields[0] == "*1h burn rate*\n20.0x (critical)"
    assert fields[1] == "*6h burn rate*\nno data"
    assert "*Budget remaining*\n70.0%" in fields
    assert payload["text"] == "🔴 CRITICAL: checkout burning its error budget at 20.0x over 1h"


def test_a_warning_has_its_own_marker():
    payload = render_slack([alert(severity="warning", title="WARNING: checkout burning at 8.0x")], CONTEXT)
    assert payload["blocks"][0]["text"]["text"] == "🟠 WARNING · checkout"
    assert payload["text"] == "🟠 WARNING: checkout burning at 8.0x"


def test_a_resolution():
    resolved = alert(
        kind="resolved", title="checkout recovered", summary="All windows are back under their thresholds."
    )
    payload = render_slack([resolved], CONTEXT)
    assert payload["text"] == "✅ RESOLVED: checkout recovered"
    header, section, _ = payload["blocks"]
    assert header["text"]["text"] == "✅ RESOLVED · checkout"
    assert section["text"]["text"] == "*checkout recovered*\nAll windows are back under their thresholds."


def test_a_resolution_with_the_firing_title_drops_the_old_severity():
    payload = render_slack([alert(kind="resolved")], CONTEXT)
    assert payload["text"] == "✅ RESOLVED: checkout burning its error budget at 20.0x over 1h"


def test_a_cron_alert_shows_its_key_facts_generically():
    details = {
        "job": "nightly-backup",
        "schedule": "0 3 * * *",
        "expected_at": "2026-11-27T03:00:00+00:00",
        "late_by_s": 5400,
        "last_exit_code": 1,
        "host": "db-1",
        "ok": False,
        "attempts": 3,
        "owner": "dba",
        "tenth": "not shown",
        "nested": {"ignored": True},
    }
    n = alert(
        fingerprint="cron:nightly-backup",
        source="cron",
        title="CRITICAL: nightly-backup did not run",
        summary="nightly-backup is 90 min late.",
        details=details,
        runbook_url="",
    )
    payload = render_slack([n], MessageContext("k", "", 5))
    header, section, context = payload["blocks"]
    assert header["text"]["text"] == "🔴 CRITICAL · nightly-backup"
    assert texts(section) == [
        "*job*\nnightly-backup",
        "*schedule*\n0 3 * * *",
        "*expected at*\n2026-11-27T03:00:00+00:00",
        "*late by s*\n5400",
        "*last exit code*\n1",
        "*host*\ndb-1",
        "*ok*\nno",
        "*attempts*\n3",
        "*Occurred*\n2026-11-27 12:31 UTC",
        "*Source*\ncron",
    ]
    # no runbook and no dashboard: no links, only the fingerprint
    assert [e["text"] for e in context["elements"]] == ["relops · cron:nightly-backup"]


def test_a_thousand_alerts_group_worst_first_within_slack_limits():
    notifications = many(critical=995, warning=5)
    payload = render_slack(notifications, CONTEXT)
    blocks = payload["blocks"]

    assert len(blocks) <= MAX_BLOCKS
    assert blocks[0]["text"]["text"] == "🔴 1,000 alerts: 995 critical, 5 warning"
    assert payload["text"].startswith("🔴 1,000 alerts: 995 critical, 5 warning — worst: CRITICAL: ")
    sections = [b for b in blocks if b["type"] == "section" and "fields" in b]
    assert len(sections) == CONTEXT.max_full
    # worst first: critical before warning, then oldest first
    shown = [s["text"]["text"].split("\n")[0] for s in sections]
    assert shown == [f"🔴 *CRITICAL · flow-{i:04d}*" for i in range(5)]
    assert blocks[-1] == {
        "type": "section",
        "text": {
            "type": "mrkdwn",
            "text": "…and 995 more: 990 critical, 5 warning — "
            "<https://grafana.example.com/d/relops?orgId=1&amp;refresh=30s|see the dashboard>",
            "verbatim": True,
        },
    }


def test_warnings_come_before_resolutions_and_the_count_says_so():
    payload = render_slack(many(critical=1, warning=1, resolved=2), MessageContext("k", DASHBOARD, max_full=2))
    blocks = payload["blocks"]
    assert blocks[0]["text"]["text"] == "🔴 4 alerts: 1 critical, 1 warning, 2 resolved"
    firsts = [b["text"]["text"].split("\n")[0] for b in blocks if "fields" in b]
    assert firsts == ["🔴 *CRITICAL · flow-0000*", "🟠 *WARNING · flow-0001*"]
    assert blocks[-1]["text"]["text"].startswith("…and 2 more: 2 resolved — <https://grafana")


def test_all_shown_means_no_count_line_and_no_trailing_divider():
    payload = render_slack(many(critical=2, warning=1), CONTEXT)
    blocks = payload["blocks"]
    assert [b["type"] for b in blocks] == [
        "header",
        *["section", "context", "divider"] * 2,
        "section",
        "context",
    ]


def test_max_full_never_breaks_the_block_limit():
    payload = render_slack(many(critical=1000, warning=0), MessageContext("k", DASHBOARD, max_full=50))
    blocks = payload["blocks"]
    assert len(blocks) <= MAX_BLOCKS
    shown = sum(1 for b in blocks if "fields" in b)
    assert shown == MAX_SHOWN == 16
    assert blocks[-1]["text"]["text"].startswith(f"…and {1000 - shown:,} more: {1000 - shown:,} critical — ")


def test_a_message_of_long_alerts_stays_under_slacks_total_and_counts_the_rest():
    """Sixteen alerts with 3,000-character summaries would be 48,000 characters: Slack refuses a
    message above about 12,000 (msg_blocks_too_long), so fewer are shown and the rest are counted."""
    long = [dataclasses.replace(n, summary="burning & " * 400) for n in many(critical=16, warning=4)]
    payload = render_slack(long, MessageContext("k", DASHBOARD, max_full=16))
    blocks = payload["blocks"]
    assert block_text_length(blocks) <= MAX_MESSAGE_TEXT
    shown = sum(1 for b in blocks if "fields" in b)
    assert 1 <= shown < 16
    assert blocks[-1]["text"]["text"].startswith(f"…and {20 - shown} more: ")
    counted = re.match(r"…and (\d+) more", blocks[-1]["text"]["text"])
    assert counted and shown + int(counted.group(1)) == 20


def test_a_long_link_full_of_ampersands_is_never_cut_open():
    """Escaping turns each & into &amp;: a 1,900-character runbook URL became 7,000 characters, and
    cutting it to the section limit left an unterminated <https://… link."""
    url = "https://runbooks.example.com/r?" + "a=1&" * 470
    for notifications in ([alert(runbook_url=url)], [alert(runbook_url=url), alert()]):
        payload = render_slack(notifications, MessageContext("k", url, max_full=5))
        for text in all_strings(payload):
            assert text.count("<") == text.count(">"), text[:200]
        elements = [e["text"] for e in payload["blocks"][2]["elements"]]
        assert elements[0].startswith("📖 Runbook: https://runbooks.example.com/r?a=1&amp;")
        assert all(slack_length(t["text"]) <= 3000 for t in text_objects(payload["blocks"]))


def test_lengths_are_counted_as_slack_counts_them():
    """Slack counts UTF-16 code units: each 🔥 is two, so 2,000 of them are 4,000, not 2,000."""
    payload = render_slack([alert(summary="🔥" * 2000)], CONTEXT)
    section = payload["blocks"][1]["text"]["text"]
    assert slack_length(section) <= MAX_SECTION_CHARS and section.endswith("…")
    assert slack_length("🔥") == 2 and slack_length(truncate_escaped("🔥🔥🔥", 4)) <= 4


def test_control_characters_in_event_text_become_spaces():
    payload = render_slack([alert(title="CRITICAL: check\x07out\x1b[31m", summary="bell\x07 esc\x1b[0m")], CONTEXT)
    dumped = json.dumps(payload)
    assert "\\u0007" not in dumped and "\\u001b" not in dumped
    assert "check out [31m" in payload["blocks"][1]["text"]["text"]


def test_without_a_dashboard_the_count_line_has_no_link():
    payload = render_slack(many(critical=10, warning=0), MessageContext("k", "", max_full=2))
    assert payload["blocks"][-1]["text"]["text"] == "…and 8 more: 8 critical — see the dashboard"


HOSTILE_FLOW = '<!channel> <http://evil.example|click> "quotes" & ampersands <script>alert(1)</script>'


def test_hostile_event_text_can_neither_ping_nor_forge_links():
    n = alert(
        fingerprint=f"slo:{HOSTILE_FLOW}",
        title=f"CRITICAL: {HOSTILE_FLOW} burning",
        summary=f"{HOSTILE_FLOW} <@U123> <!here> <#C123>",
        details={**slo_details(HOSTILE_FLOW), "windows": {"<!channel>": {"burn_rate": 20.0, "status": "<b>"}}},
        runbook_url="javascript:alert(1)",
        source="<!everyone>",
    )
    for notifications in ([n], [n, alert()]):
        payload = render_slack(notifications, CONTEXT)
        dumped = json.dumps(payload, ensure_ascii=False)
        for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C123>", "<http://evil", "<script>"):
            assert raw not in dumped
        assert "<javascript:" not in dumped
        for text in all_strings(payload):
            # the only markup left is our own links to http(s) URLs
            rest = re.sub(r"<https://[^<>|\s]+\|[A-Za-z ]+>", "", text)
            assert "<" not in rest and ">" not in rest, text
            # every & is an entity we wrote
            assert not re.search(r"&(?!amp;|lt;|gt;)", rest), text
    single = render_slack([n], CONTEXT)
    header = single["blocks"][0]["text"]["text"]
    assert header.startswith("🔴 CRITICAL · &lt;!channel&gt; &lt;http://evil.example|click&gt;")
    assert "&quot;" not in json.dumps(single)  # quotes need no escaping in Slack
    elements = [e["text"] for e in single["blocks"][2]["elements"]]
    assert elements[0] == "📖 Runbook: javascript:alert(1)"  # shown as text, not a link
    assert "*&lt;!channel&gt; burn rate*\n20.0x (&lt;b&gt;)" in texts(single["blocks"][1])


def test_only_http_urls_become_links():
    for url in ("javascript:alert(1)", "data:text/html,hi", "/relative/runbook.md", "https://", "ftp://x/y"):
        payload = render_slack([alert(runbook_url=url)], MessageContext("k", url, 5))
        elements = payload["blocks"][2]["elements"]
        assert not any("|Runbook>" in e["text"] or "|Dashboard>" in e["text"] for e in elements), url
    # characters that would end a Slack link are percent-encoded
    payload = render_slack([alert(runbook_url="https://x.example/a|b>c")], CONTEXT)
    assert payload["blocks"][2]["elements"][0]["text"] == "📖 <https://x.example/a%7Cb%3Ec|Runbook>"


def test_long_text_is_cut_to_slack_limits():
    n = alert(
        title="CRITICAL: " + "t" * 1000,
        summary="s&" * 5000,
        details={
            **slo_details("f" * 400),
            "windows": {"w" * 3000: {"burn_rate": 1.0, "status": "x" * 3000}},
        },
        runbook_url="https://x.example/" + "r" * 5000,
    )
    for notifications in ([n], [n, alert()]):
        payload = render_slack(notifications, CONTEXT)
        blocks = payload["blocks"]
        assert len(blocks[0]["text"]["text"]) <= MAX_HEADER_CHARS
        if len(notifications) == 1:
            assert blocks[0]["text"]["text"].endswith("…")
        for block in blocks:
            if block["type"] == "section":
                assert len(block["text"]["text"]) <= MAX_SECTION_CHARS
                assert all(len(f["text"]) <= MAX_FIELD_CHARS for f in block.get("fields", []))
        section = blocks[1]
        assert section["text"]["text"].endswith("…")
        # cut between entities, never inside one
        assert re.search(r"&(?:a|am|amp)?…$", section["text"]["text"]) is None
        assert all(len(t["text"]) <= 3000 for t in text_objects(blocks))
        assert len(payload["text"]) <= 3000


def test_escape_and_entity_safe_truncation():
    assert escape("a & <b> c") == "a &amp; &lt;b&gt; c"
    assert truncate_escaped("abc&amp;def", 6) == "abc…"
    assert truncate_escaped("abc&amp;def", 9) == "abc&amp;…"
    assert truncate_escaped("short", 10) == "short"


def test_odd_details_do_not_break_the_message():
    n = alert(
        details={
            "windows": {
                "1h": "not an object",
                "6h": {"burn_rate": "20", "status": 7},
                "24h": {"burn_rate": float("inf")},
            },
            "budget_remaining": "lots",
            "time_to_exhaustion_s": -5,
        },
        occurred_at="yesterday",
    )
    fields = texts(render_slack([n], CONTEXT)["blocks"][1])
    assert fields[:3] == ["*1h burn rate*\nno data", "*6h burn rate*\nno data", "*24h burn rate*\nno data"]
    assert "*Budget remaining*\nno data" in fields
    assert "*Occurred*\nyesterday" in fields


def test_an_empty_message_is_refused():
    with pytest.raises(ValueError):
        render_slack([], CONTEXT)
