"""The dashboard renders with no data, with thousands of flows, and escapes what it is given."""

import time

from relops.web.templating import TEMPLATES


class _Request:
    """What the template needs of a request (it renders no URLs from it)."""

    def __init__(self) -> None:
        self.url = "http://127.0.0.1/"


def render(snap):
    template = TEMPLATES.get_template("dashboard.html")
    user = type("User", (), {"name": "ops"})()
    return template.render(snap=snap, user=user, csrf="x", refresh_s=30, request=_Request())


EMPTY = {"status": "HEALTHY", "flows": [], "breakers": {}, "cron": [], "incidents": [], "task_faults": {}}


def flow(name, severity="ok", burn=0.5):
    window = {"burn_rate": burn, "status": severity, "events": 1000, "errors": 1}
    return {
        "flow": name,
        "objective_percent": 99.9,
        "severity": severity,
        "evaluated_at": "2026-11-27T12:00:00+00:00",
        "windows": {"1h": window, "6h": window, "24h": window},
        "budget_remaining": 0.9,
        "time_to_exhaustion_s": None,
        "trend": [{"at": "t", "severity": severity, "burn_rate": burn}] * 12,
        "runbook_url": "javascript:alert(1)",
    }


def test_it_renders_with_no_data_yet():
    page = render(EMPTY)
    assert "HEALTHY" in page and "No flows configured." in page and "No open incidents." in page


def test_it_renders_thousands_of_flows_quickly():
    snap = {**EMPTY, "status": "CRITICAL", "flows": [flow(f"flow-{i:05d}", "critical", 20.0) for i in range(5000)]}
    started = time.perf_counter()
    page = render(snap)
    assert page.count('data-flow="flow-') == 5000
    assert time.perf_counter() - started < 10  # a hang guard, not a speed claim


def test_hostile_names_and_links_are_escaped():
    hostile = '<img src=x onerror=alert(1)> & "q"'
    page = render(
        {
            **EMPTY,
            "flows": [flow(hostile)],
            "incidents": [
                {
                    "id": 1,
                    "severity": "critical",
                    "status": "open",
                    "title": hostile,
                    "occurrences": 1,
                    "last_seen": "2026-11-27T12:00:00+00:00",
                    "runbook_url": "javascript:alert(1)",
                }
            ],
        }
    )
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#34;q&#34;" in page
    assert 'href="javascript:' not in page


def test_a_corrected_budget_shows_what_it_would_be_without_the_corrections():
    corrected = {**flow("checkout"), "budget_remaining": 0.9, "excluded_events": 1234}
    corrected["budget_remaining_uncorrected"] = 0.25
    page = render({**EMPTY, "flows": [corrected, {**flow("login"), "excluded_events": 0}]})
    assert "90.0%" in page and "(25.0% without corrections)" in page
    assert page.count("without corrections") == 1


def test_an_incident_says_who_heard_it_what_inhibits_it_and_where_it_escalated():
    incident = {
        "id": 7,
        "severity": "critical",
        "status": "open",
        "title": "CRITICAL: booking burning",
        "occurrences": 3,
        "last_seen": "2026-11-27T12:00:00+00:00",
        "runbook_url": "",
        "notified": {"team-a": {"at": "2026-11-27T11:00:00+00:00"}, "lead": {"at": None}},
        "route": "route.routes[0] 'team a'",
        "inhibited_by": "dependency:inventory",
        "escalations": [{"step": "route.routes[0]#0", "to": "lead", "at": "2026-11-27T11:15:00+00:00"}],
    }
    page = render({**EMPTY, "incidents": [incident]})
    assert "inhibited by inventory" in page and "escalated to lead" in page
    assert "to lead, team-a by route.routes[0] &#39;team a&#39;" in page


def test_a_row_names_the_minute_its_tick_read_not_the_close_of_that_minute_ahead_of_the_clock():
    # as_of 12:00:00 is the close of the minute 11:59, which the ticks of 11:59:xx evaluated.
    page = render({**EMPTY, "flows": [flow("checkout")]})
    assert "2026-11-27 11:59 UTC" in page
    assert "12:00" not in page
