"""Alert emails: subject, HTML table of the numbers, plain-text part, grouping, HTML escaping."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from relops.channels.base import MessageContext, Notification
from relops.channels.email_format import MAX_SUBJECT_CHARS, render_email
from tests.samples import CONTEXT, DASHBOARD, RUNBOOK, notification, slo_details

SUMMARY = "checkout burning its error budget at 20.0x over 1h: 20 bad of 1000 events in the last 1h."
ALLOWED_TAGS = {"html", "head", "meta", "title", "body", "div", "h1", "h2", "p", "strong", "table", "tr", "th", "td"}
ALLOWED_TAGS |= {"a", "code"}


def alert(**changes: Any) -> Notification:
    return notification(**{"summary": SUMMARY, **changes})


def many(critical: int, warning: int) -> list[Notification]:
    start = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    out = []
    for i, severity in enumerate(["critical"] * critical + ["warning"] * warning):
        flow = f"flow-{i:04d}"
        out.append(
            alert(
                fingerprint=f"slo:{flow}",
                severity=severity,
                title=f"{severity.upper()}: {flow} burning",
                details=slo_details(flow),
                occurred_at=(start + timedelta(seconds=i if severity == "critical" else -i)).isoformat(),
            )
        )
    return out[::-1]


class Page(HTMLParser):
    """What a mail client would see: tags, table rows, link targets, text."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.hrefs: list[str] = []
        self.rows: list[list[str]] = []
        self.headings: list[str] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None
        self._heading: list[str] | None = None
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href") or "")
        elif tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag in ("h1", "h2"):
            self._heading = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag in ("h1", "h2") and self._heading is not None:
            self.headings.append("".join(self._heading))
            self._heading = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._heading is not None:
            self._heading.append(data)


def test_a_critical_slo_alert():
    subject, html, text = render_email([alert()], CONTEXT)

    assert subject == "[relops] CRITICAL: checkout burning its error budget at 20.0x over 1h"
    page = Page(html)
    assert page.headings == ["🔴 CRITICAL · checkout"]
    assert page.rows == [
        ["Window", "Burn rate", "Status", "Bad / events"],
        ["1h", "20.0x", "critical", "20 bad of 1,000"],
        ["6h", "no data", "no data", "0 bad of 0"],
        ["24h", "2.0x", "warning", "4 bad of 2,000"],
        ["Budget remaining", "70.0%"],
        ["Time to exhaustion", "1d 1h"],
        ["Objective", "99.9% over 30 days"],
        ["Period events", "300 bad of 1,000,000"],
        ["Occurred", "2026-11-27 12:31 UTC"],
        ["Source", "slo"],
    ]
    assert page.hrefs == [RUNBOOK, DASHBOARD]
    assert "&amp;refresh=30s" in html  # the & of the dashboard URL is escaped in the attribute
    body = "".join(page.text)
    assert "checkout burning its error budget at 20.0x over 1h" in body
    assert SUMMARY in body
    assert set(page.tags) <= ALLOWED_TAGS

    assert text.splitlines()[:3] == [
        "CRITICAL · checkout",
        "checkout burning its error budget at 20.0x over 1h",
        SUMMARY,
    ]
    for line in (
        "  1h      20.0x (critical)  20 bad of 1,000",
        "  6h      no data           0 bad of 0",
        "  24h     2.0x (warning)    4 bad of 2,000",
        "  Budget remaining: 70.0%",
        "  Time to exhaustion: 1d 1h",
        "  Objective: 99.9% over 30 days",
        "  Period events: 300 bad of 1,000,000",
        "  Occurred: 2026-11-27 12:31 UTC",
        "  Source: slo",
        f"  Runbook: {RUNBOOK}",
        f"  Dashboard: {DASHBOARD}",
    ):
        assert line in text.splitlines(), line


def test_a_resolution():
    subject, html, text = render_email([alert(kind="resolved")], CONTEXT)
    assert subject == "[relops] RESOLVED: checkout burning its error budget at 20.0x over 1h"
    assert Page(html).headings == ["✅ RESOLVED · checkout"]
    assert text.startswith("RESOLVED · checkout\n")


def test_an_exhausted_budget():
    details = {**slo_details(), "budget_remaining": -0.4, "budget_exhausted": True, "time_to_exhaustion_s": 0}
    rows = Page(render_email([alert(details=details)], CONTEXT)[1]).rows
    assert ["Budget remaining", "-40.0% (exhausted)"] in rows
    assert ["Time to exhaustion", "now (exhausted)"] in rows


def test_a_cron_alert_shows_its_details_generically():
    details = {"job": "nightly-backup", "late_by_s": 5400, "last_exit_code": 1, "nested": {"skipped": True}}
    n = alert(source="cron", fingerprint="cron:nightly-backup", title="WARNING: nightly-backup late", details=details)
    subject, html, _ = render_email([dataclasses.replace(n, severity="warning")], CONTEXT)
    assert subject == "[relops] WARNING: nightly-backup late"
    page = Page(html)
    assert page.headings == ["🟠 WARNING · nightly-backup"]
    assert page.rows == [
        ["job", "nightly-backup"],
        ["late by s", "5400"],
        ["last exit code", "1"],
        ["Occurred", "2026-11-27 12:31 UTC"],
        ["Source", "cron"],
    ]


def test_a_group_of_twelve():
    subject, _, _ = render_email(many(critical=10, warning=2), CONTEXT)
    assert subject == "[relops] 12 alerts: 10 critical, 2 warning"


def test_a_thousand_alerts_show_the_worst_in_full_and_count_the_rest():
    subject, html, text = render_email(many(critical=995, warning=5), CONTEXT)
    assert subject == "[relops] 1,000 alerts: 995 critical, 5 warning"
    page = Page(html)
    assert page.headings == ["🔴 1,000 alerts: 995 critical, 5 warning"] + [
        f"🔴 CRITICAL · flow-{i:04d}" for i in range(5)
    ]
    assert page.hrefs[-1] == DASHBOARD
    assert "…and 995 more: 990 critical, 5 warning — see the dashboard" in "".join(page.text)
    assert text.splitlines()[0] == "1,000 alerts: 995 critical, 5 warning"
    assert text.rstrip().endswith(f"…and 995 more: 990 critical, 5 warning — see the dashboard: {DASHBOARD}")
    assert len(html) < 100_000


HOSTILE = "<!channel> <script>alert(1)</script> \"quotes\" & ampersands 'single'"


def test_hostile_event_fields_are_escaped_everywhere():
    n = alert(
        fingerprint=f"slo:{HOSTILE}",
        title=f"CRITICAL: {HOSTILE}\r\nBcc: victim@example.com",
        summary=HOSTILE,
        details={**slo_details(HOSTILE), "windows": {HOSTILE: {"burn_rate": 20.0, "status": HOSTILE}}},
        runbook_url='javascript:alert(1)//"><script>alert(2)</script>',
        source=HOSTILE,
        occurred_at=HOSTILE,
    )
    for notifications in ([n], [n, alert()]):
        subject, html, _ = render_email(notifications, MessageContext("k", 'https://x.example/"onmouseover=1', 5))
        assert "\n" not in subject and "\r" not in subject
        page = Page(html)
        assert set(page.tags) <= ALLOWED_TAGS  # no <script>, no injected element
        assert {name for name, _ in page.attributes} <= {"charset", "style", "href"}
        assert all(href.startswith("https://") for href in page.hrefs)
        assert "javascript:" not in "".join(page.hrefs)
        assert "<script>" not in html and "&lt;script&gt;" in html
        assert "&quot;quotes&quot; &amp; ampersands &#x27;single&#x27;" in html
        # the hostile dashboard URL cannot leave its attribute
        assert 'href="https://x.example/%22onmouseover=1"' in html
    page = Page(render_email([n], CONTEXT)[1])
    # the runbook is shown as text, escaped
    assert 'javascript:alert(1)//"><script>alert(2)</script>' in "".join(page.text)
    assert page.hrefs == [DASHBOARD]


def test_long_fields_are_cut():
    n = alert(title="CRITICAL: " + "t" * 2000, summary="s" * 10_000)
    subject, html, text = render_email([n], CONTEXT)
    assert len(subject) <= MAX_SUBJECT_CHARS and subject.endswith("…")
    assert "t" * 300 not in html and "t" * 290 in html
    assert "s" * 4000 not in html and "s" * 3990 in html
    assert "s" * 4000 not in text


def test_an_empty_message_is_refused():
    with pytest.raises(ValueError):
        render_email([], CONTEXT)


def test_control_characters_never_reach_either_part():
    """A bell or an escape sequence in alert text would ring or recolour a terminal mail reader."""
    n = alert(
        title="CRITICAL: check\x07out\x1b[31m",
        summary="bell\x07 esc\x1b[0m c1\x9b",
        details={**slo_details("check\x07out"), "note": "x\x00y"},
    )
    for notifications in ([n], [n, alert()]):
        subject, html, text = render_email(notifications, CONTEXT)
        for part in (subject, html, text):
            assert not any(c in part for c in "\x00\x07\x1b\x9b"), repr(part[:200])
        assert "check out [31m" in html and "bell  esc [0m c1 " in html
        assert "check out [31m" in text
