"""The dashboard in a real browser: headless Chromium (Debian's, installed by tests/browser_setup.py
when missing) signs in to a real `relops web` process over HTTP and reads seeded data off the page.

The page is left as a screenshot under the run's output folder (test-output/<run>/dashboard.png).
"""

from __future__ import annotations

import base64
import json
import re
import time
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import requests
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import text

from relops import redis_keys
from relops.slo.outcome_batch import OutcomeCount
from relops.store.outcomes import ingest_batch, rebuild_days
from relops.timeutil import floor_minute, utcnow
from tests.browser_setup import INSTALL_TIMEOUT_S, ensure_chromium
from tests.integration.conftest import TEST_CONFIG
from tests.web_support import new_login, web_fixture  # noqa: F401 (the `web` fixture)

# The first test may install Chromium (apt-get update + install) inside its setup: room for that.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(2 * INSTALL_TIMEOUT_S + 120)]

# '<script>alert(1)</script> & "quotes"', as the test config spells it.
HOSTILE_FLOW = next(
    flow["name"] for flow in tomllib.loads(TEST_CONFIG.format(tick_interval_s=300))["flows"] if "<" in flow["name"]
)
INCIDENT_TITLE = "checkout is burning its error budget 20x"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",  # Chromium refuses to run as root without it
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
]


def replaced(element: WebElement):
    """A wait condition: ``element``'s page was replaced (a form posted, the page reloaded).
    Selenium's staleness_of expects StaleElementReferenceException; chromedriver sometimes reports
    a node of the page being unloaded as "does not belong to the document" instead."""

    def check(_driver: WebDriver) -> bool:
        try:
            element.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as exc:
            if "does not belong to the document" in str(exc):
                return True
            raise
        return False

    return check


@pytest.fixture(scope="module")
def chromium_paths() -> tuple[str, str]:
    return ensure_chromium()


@pytest.fixture
def driver(chromium_paths, tmp_path, output_dir) -> Iterator[WebDriver]:
    chromium, chromedriver = chromium_paths
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations are reported there
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager is never asked to find (or download) one.
    service = Service(executable_path=chromedriver, log_output=str(output_dir / "chromedriver.log"))
    browser = webdriver.Chrome(service=service, options=options)
    try:
        browser.set_window_size(1400, 1000)
        browser.set_page_load_timeout(20)
        yield browser
    finally:
        browser.quit()


def seed(db, redis_url: str) -> int:
    """A critical checkout, an ok login, an open critical incident, a failing cron job, an open breaker."""
    checkout_windows = [
        {"window": "1h", "window_s": 3600, "events": 1000, "errors": 20, "burn_rate": 20.0, "status": "critical"}
    ]
    login_windows = [{"window": "1h", "window_s": 3600, "events": 800, "errors": 0, "burn_rate": 0.0, "status": "ok"}]
    snapshot = text(
        "INSERT INTO ops_burn_rate_snapshots (flow, evaluated_at, severity, objective_percent, budget_remaining, "
        "time_to_exhaustion_s, period_events, period_errors, windows) VALUES (:flow, now(), :severity, :objective, "
        ":budget, :tte, :events, :errors, CAST(:windows AS jsonb))"
    )
    with db.begin() as conn:
        conn.execute(
            snapshot,
            [
                {
                    "flow": "checkout",
                    "severity": "critical",
                    "objective": 99.9,
                    "budget": 0.5,
                    "tte": 3600,
                    "events": 100_000,
                    "errors": 50,
                    "windows": json.dumps(checkout_windows),
                },
                {
                    "flow": "login",
                    "severity": "ok",
                    "objective": 99.5,
                    "budget": 1.0,
                    "tte": None,
                    "events": 80_000,
                    "errors": 0,
                    "windows": json.dumps(login_windows),
                },
            ],
        )
        incident_id = conn.execute(
            text(
                "INSERT INTO ops_incidents (fingerprint, status, severity, source, title, first_seen, last_seen, "
                "opened_at, occurrences, last_event) VALUES ('slo:checkout', 'open', 'critical', 'slo', :title, "
                "now(), now(), now(), 3, '{}') RETURNING id"
            ),
            {"title": INCIDENT_TITLE},
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO ops_cron_jobs (name, state, next_deadline, last_run_id, last_status, last_finished_at, "
                "consecutive_failures) VALUES ('nightly-export', 'failing', now() + interval '1 hour', 'run-7', "
                "'failed', now() - interval '5 minutes', 2)"
            )
        )
    now_ms = int(time.time() * 1000)
    client = redis.Redis.from_url(redis_url)
    try:
        client.hset(
            redis_keys.breaker("webhook")[0],
            mapping={
                "state": "open",
                "generation": 1,
                "failures": 0,
                "open_until": now_ms + 3_600_000,
                "last_failure": now_ms,
                "last_transition": now_ms,
            },
        )
    finally:
        client.close()
    return incident_id


def badge(row: WebElement, column: int) -> WebElement:
    return row.find_element(By.CSS_SELECTOR, f"td:nth-child({column}) .badge")


def classes(element: WebElement) -> set[str]:
    return set((element.get_attribute("class") or "").split())


def rgb(css_colour: str) -> tuple[int, int, int]:
    match = re.match(r"rgba?\((\d+),\s*(\d+),\s*(\d+)", css_colour)
    assert match, css_colour
    r, g, b = (int(part) for part in match.groups())
    return r, g, b


def assert_no_alert(driver: WebDriver) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert  # noqa: B018 (the property raises when no dialog is open)


def full_page_png(driver: WebDriver) -> bytes:
    """The whole page, not just the viewport: Chrome DevTools' capture beyond the viewport."""
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    return base64.b64decode(shot["data"])


def save_screenshot(driver: WebDriver, path: Path) -> None:
    path.write_bytes(full_page_png(driver))
    assert path.stat().st_size > 10_000, f"{path} is only {path.stat().st_size} bytes"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def incident_row(driver: WebDriver, incident_id: int) -> WebElement:
    rows = [
        row
        for row in driver.find_elements(By.CSS_SELECTOR, "#incidents tbody tr")
        if row.find_element(By.CSS_SELECTOR, "td").text == str(incident_id)
    ]
    assert len(rows) == 1, [row.text for row in driver.find_elements(By.CSS_SELECTOR, "#incidents tbody tr")]
    return rows[0]


def sign_in(driver: WebDriver, web: str, wait: WebDriverWait) -> tuple[str, str]:
    """Signed in as a new admin through the login form, as a person would; (name, token)."""
    name, token = new_login("admin")
    driver.get(web + "/login")
    wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "input[name=name]"))).send_keys(name)
    field = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "input[name=token]")))
    field.send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()
    return name, token


def csp_violations(driver: WebDriver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_dashboard_in_headless_chromium(web, relops_env, db, clean_tables, driver, output_dir):
    incident_id = seed(db, relops_env["REDIS_URL"])
    wait = WebDriverWait(driver, 15)
    name, _ = sign_in(driver, web, wait)
    banner = wait.until(ec.visibility_of_element_located((By.ID, "status")))
    assert driver.current_url == web + "/"
    assert driver.title == "relops · CRITICAL"
    assert f"Signed in as {name}" in driver.find_element(By.CSS_SELECTOR, "main > div.muted").text

    # The banner: CRITICAL, in red.
    assert banner.text == "CRITICAL"
    assert {"banner", "CRITICAL"} <= classes(banner)
    r, g, b = rgb(banner.value_of_css_property("background-color"))
    assert r > 150 and g < 100 and b < 100, (r, g, b)

    # Burn rates: checkout first and critical at 20.00x over 1h; login ok; windows without data say so.
    burn_rows = driver.find_elements(By.CSS_SELECTOR, "#burn-rates tbody tr")
    assert burn_rows[0].get_attribute("data-flow") == "checkout"
    checkout = driver.find_element(By.CSS_SELECTOR, "#burn-rates tr[data-flow='checkout']")
    assert badge(checkout, 2).text == "critical" and "critical" in classes(badge(checkout, 2))
    one_hour = badge(checkout, 3)
    assert one_hour.text == "20.00x" and "critical" in classes(one_hour)
    assert badge(checkout, 4).text == "no data"  # 6h: no data in the seeded snapshot
    assert "50.0%" in checkout.text  # budget left
    login = driver.find_element(By.CSS_SELECTOR, "#burn-rates tr[data-flow='login']")
    assert badge(login, 2).text == "ok" and badge(login, 3).text == "0.00x"
    headers = [th.text for th in driver.find_elements(By.CSS_SELECTOR, "#burn-rates thead th")]
    assert headers[:5] == ["flow", "status", "1h", "6h", "24h"]

    # The hostile flow name from the config is plain text: no script element, no dialog.
    names = [td.text for td in driver.find_elements(By.CSS_SELECTOR, "#burn-rates td.name")]
    assert any(name.startswith(HOSTILE_FLOW) for name in names), names
    scripts = driver.find_elements(By.TAG_NAME, "script")
    assert scripts and all((script.get_attribute("src") or "").startswith(web + "/static/") for script in scripts)
    assert all(not (script.get_attribute("innerHTML") or "").strip() for script in scripts), "no inline script"
    assert_no_alert(driver)

    # Dependencies: the webhook breaker is open.
    webhook = driver.find_element(By.CSS_SELECTOR, "#breakers tr[data-dependency='webhook']")
    assert badge(webhook, 2).text == "open" and "open" in classes(badge(webhook, 2))
    postgres = driver.find_element(By.CSS_SELECTOR, "#breakers tr[data-dependency='postgres']")
    assert badge(postgres, 2).text == "closed" and "closed" in classes(badge(postgres, 2))

    # Cron jobs: the failing export.
    cron = driver.find_element(By.CSS_SELECTOR, "#cron tbody tr")
    assert cron.find_element(By.CSS_SELECTOR, "td.name").text == "nightly-export"
    assert badge(cron, 2).text == "failing" and "failing" in classes(badge(cron, 2))

    # Incidents: open and critical, with ack and resolve buttons.
    row = incident_row(driver, incident_id)
    assert INCIDENT_TITLE in row.text
    assert badge(row, 2).text == "critical" and badge(row, 3).text == "open"
    assert [button.text for button in row.find_elements(By.CSS_SELECTOR, "button")] == ["ack", "resolve"]

    save_screenshot(driver, output_dir / "dashboard.png")

    # Acknowledge it: the form posts, the page reloads, the incident is acknowledged.
    row.find_element(By.XPATH, ".//button[normalize-space()='ack']").click()
    wait.until(replaced(row))
    wait.until(ec.visibility_of_element_located((By.ID, "status")))
    assert driver.current_url == web + "/"
    row = incident_row(driver, incident_id)
    assert badge(row, 3).text == "acknowledged" and "acknowledged" in classes(badge(row, 3))
    assert [button.text for button in row.find_elements(By.CSS_SELECTOR, "button")] == ["resolve"]
    assert driver.find_element(By.ID, "status").text == "CRITICAL"  # checkout still burns
    assert_no_alert(driver)
    with db.connect() as conn:
        status = conn.execute(text("SELECT status FROM ops_incidents WHERE id = :id"), {"id": incident_id}).scalar()
    assert status == "acknowledged"
    save_screenshot(driver, output_dir / "dashboard-acknowledged.png")

    # The page works under the Content-Security-Policy: it styles itself from the app's stylesheet
    # (the banner's red above), runs no inline script, and the browser reported no blocked resource.
    policy = requests.get(web + "/login", timeout=10).headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self';" in policy and "default-src 'none'" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert csp_violations(driver) == []


def seed_hours(db, flow: str, hours: int, burning: int) -> None:
    """``hours`` of hour counters up to now: 1,000 events an hour, 0.05 % bad, then ``burning``
    hours at 3 % bad (30x at 99.9 %)."""
    rows = [
        {"flow": flow, "ago": ago, "good": 1000 - bad, "bad": bad}
        for ago in range(hours)
        for bad in [30 if ago < burning else (1 if ago % 2 else 0)]
    ]
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops_flow_hours (flow, hour, good, bad) "
                "VALUES (:flow, date_trunc('hour', now()) - make_interval(hours => :ago), :good, :bad)"
            ),
            rows,
        )
        rebuild_days(conn, [flow])


def test_a_burning_flow_charted_in_headless_chromium(web, relops_env, db, clean_tables, driver, output_dir):
    seed(db, relops_env["REDIS_URL"])
    seed_hours(db, "checkout", hours=40 * 24, burning=3)
    with db.begin() as conn:  # a silence of checkout two days ago, and one of another flow
        conn.execute(
            text(
                "INSERT INTO ops_silences (matchers, match_all, starts_at, ends_at, reason, created_by, created_via) "
                "VALUES (CAST(:matchers AS jsonb), false, now() - interval '2 days', now() - interval '47 hours', "
                ":reason, 'admin', 'web')"
            ),
            [
                {"matchers": json.dumps([{"name": "flow", "op": "=", "value": "checkout"}]), "reason": "deploy"},
                {"matchers": json.dumps([{"name": "flow", "op": "=", "value": "login"}]), "reason": "other"},
            ],
        )
    wait = WebDriverWait(driver, 20)
    _, token = sign_in(driver, web, wait)
    wait.until(ec.visibility_of_element_located((By.ID, "status")))
    # The dashboard's small chart of checkout's budget: a point per day of its 30-day period.
    table = wait.until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#burn-rates[data-ready='true'], #burn-rates[data-error]")
    )
    assert table.get_attribute("data-error") is None, table.get_attribute("data-error")
    spark = driver.find_element(By.CSS_SELECTOR, "#burn-rates tr[data-flow='checkout'] div.spark")
    assert spark.get_attribute("data-points") == "30" and spark.find_elements(By.TAG_NAME, "canvas")
    assert (
        driver.find_element(By.CSS_SELECTOR, "#burn-rates tr[data-flow='login'] div.spark").get_attribute("data-points")
        is None
    ), "a flow without counters draws nothing"
    save_screenshot(driver, output_dir / "overview-budgets.png")

    driver.get(web + "/flows/checkout?range=7d")
    charts = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#charts[data-ready='true'], #charts[data-error]"))
    assert charts.get_attribute("data-error") is None, charts.get_attribute("data-error")
    series = requests.get(
        web + "/api/v1/flows/checkout/series?range=7d", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    assert len(series["points"]) == 7 * 24 and series["step_s"] == 3600
    assert series["windows"][0]["burn_rates"][-2] == 30.0, "the last whole hour burns 30x over 1h"
    assert series["incident"]["status"] == "open"
    assert [silence["reason"] for silence in series["silences"]] == ["deploy"], "only the silence that muted checkout"
    assert series["maintenance"] == []
    for chart in ("chart-burn", "chart-budget", "chart-events"):
        element = driver.find_element(By.ID, chart)
        assert element.get_attribute("data-points") == str(len(series["points"])), chart
        assert element.find_elements(By.TAG_NAME, "canvas"), f"{chart} drew no canvas"
    labels = driver.find_element(By.ID, "chart-burn").get_attribute("data-series").split("|")
    for window in series["windows"]:
        assert f"{window['name']} warning {window['warning_burn']:g}x" in labels
        assert f"{window['name']} critical {window['critical_burn']:g}x" in labels
    # uPlot's legend lists every series it drew, the thresholds among them.
    legend = driver.find_element(By.CSS_SELECTOR, "#chart-burn .u-legend").text
    assert "1h warning 7x" in legend and "24h critical 3x" in legend
    table_rows = driver.find_elements(By.CSS_SELECTOR, "#series-table tbody tr")
    assert len(table_rows) == len(series["points"]), "the accessible table holds every point"
    assert csp_violations(driver) == []
    save_screenshot(driver, output_dir / "flow-checkout.png")

    driver.get(web + "/flows/checkout?range=period")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#charts[data-ready='true']"))
    assert driver.find_element(By.ID, "chart-budget").get_attribute("data-points") == str(30 * 24)
    driver.get(web + "/flows/nope")
    assert "not a flow" in driver.page_source


def seed_minutes(db, flow: str, minutes: int, good: int, bad: int) -> None:
    """The last ``minutes`` minutes of counters, as the intake writes them (minute and hour rows)."""
    now = floor_minute(utcnow())
    items = [OutcomeCount(flow, now - timedelta(minutes=ago), good, bad) for ago in range(minutes)]
    with db.begin() as conn:
        ingest_batch(conn, "browser", items, rejected=0, minute_horizon=now - timedelta(days=2))
        rebuild_days(conn, [flow])


def test_a_flow_minutes_into_an_outage_in_headless_chromium(web, relops_env, db, clean_tables, driver, output_dir):
    """Six minutes of counters, 3 % failing at 99.9 %, and its incident open: the page opens on an
    hour of minute points, with the budget's -2,900 % stated and drawn at the axis' -100 %."""
    seed(db, relops_env["REDIS_URL"])
    seed_minutes(db, "checkout", minutes=6, good=970, bad=30)
    wait = WebDriverWait(driver, 20)
    _, token = sign_in(driver, web, wait)
    wait.until(ec.visibility_of_element_located((By.ID, "status")))
    driver.get(web + "/flows/checkout")
    charts = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#charts[data-ready='true'], #charts[data-error]"))
    assert charts.get_attribute("data-error") is None, charts.get_attribute("data-error")
    assert driver.find_element(By.CSS_SELECTOR, "nav.ranges strong").text == "1h"
    assert driver.find_element(By.ID, "range-chosen").is_displayed()
    series = requests.get(
        web + "/api/v1/flows/checkout/series?range=1h", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    assert len(series["points"]) == 60 and series["step_s"] == 60
    drawn = [value for value in series["budget_remaining_percent"] if value is not None]
    # The six seeded minutes; seven when a minute has begun since seeding: the budget is still known there.
    assert 6 <= len(drawn) <= 7 and drawn[-1] == -2900.0, drawn
    assert series["windows"][0]["burn_rates"][-1] == 30.0
    for chart in ("chart-burn", "chart-budget", "chart-events"):
        assert driver.find_element(By.ID, chart).get_attribute("data-points") == "60", chart
    budget = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#chart-budget[data-y-min]"))
    assert (budget.get_attribute("data-y-min"), budget.get_attribute("data-y-max")) == ("-100", "100")
    note = driver.find_element(By.ID, "budget-below-floor").text
    assert "-2,900 %" in note and "drawn at -100 %" in note and "held 1,000 events" in note, note
    assert "Events per 1 min" in driver.find_element(By.ID, "charts").text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#series-table tbody tr")) == 60
    assert csp_violations(driver) == []
    save_screenshot(driver, output_dir / "flow-checkout-minutes.png")

    # An explicit range is kept, and says nothing of a choice.
    driver.get(web + "/flows/checkout?range=6h")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#charts[data-ready='true']"))
    assert driver.find_element(By.ID, "chart-events").get_attribute("data-points") == "360"
    assert driver.find_elements(By.ID, "range-chosen") == []
    save_screenshot(driver, output_dir / "flow-checkout-6h.png")


def seed_runs(db, job: str) -> None:
    """Hourly runs over the last day: successes, a failure streak, one overrun, a three-hour gap
    (three missed starts) and a run going now."""
    rows = []
    for ago in range(24, 0, -1):
        if ago in (10, 9, 8):
            continue  # the gap
        status = "failure" if ago in (5, 4) else "success"
        seconds = 900 if ago == 12 else 40
        rows.append({"job": job, "run": f"run-{ago}", "status": status, "ago": ago, "ms": seconds * 1000})
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops_cron_executions (name, run_id, status, started_at, finished_at, duration_ms, error) "
                "VALUES (:job, :run, :status, now() - make_interval(hours => :ago), "
                "now() - make_interval(hours => :ago) + make_interval(secs => :ms / 1000.0), :ms, "
                "CASE WHEN :status = 'failure' THEN 'Traceback ... ConnectionError: upstream refused' END)"
            ),
            rows,
        )
        conn.execute(
            text(
                "INSERT INTO ops_cron_executions (name, run_id, status, started_at) "
                "VALUES (:job, 'run-now', 'running', now() - interval '2 minutes')"
            ),
            {"job": job},
        )


def test_a_job_page_in_headless_chromium(web, relops_env, db, clean_tables, driver, output_dir):
    seed(db, relops_env["REDIS_URL"])
    seed_runs(db, "nightly-export")
    wait = WebDriverWait(driver, 20)
    _, token = sign_in(driver, web, wait)
    wait.until(ec.visibility_of_element_located((By.ID, "status")))
    # The dashboard's strip: the last 20 runs and missed starts, oldest first, the newest still running.
    strip = [classes(cell) for cell in driver.find_elements(By.CSS_SELECTOR, "#cron td.strip span")]
    assert len(strip) == 20 and strip[-1] == {"running"}
    assert strip.count({"missed"}) == 3 and strip.count({"critical"}) == 2 and strip.count({"overrun"}) == 1
    save_screenshot(driver, output_dir / "overview.png")
    driver.find_element(By.LINK_TEXT, "nightly-export").click()
    charts = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#charts[data-ready='true'], #charts[data-error]"))
    assert charts.get_attribute("data-error") is None, charts.get_attribute("data-error")
    runs = requests.get(
        web + "/api/v1/jobs/nightly-export/runs?range=7d", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).json()
    assert len(runs["runs"]) == 22 and len(runs["missed"]) == 3
    assert [r["streak"] for r in runs["runs"] if r["status"] == "failure"] == [1, 2]
    assert [r["run_id"] for r in runs["runs"] if r["overran"]] == ["run-12"], "900 s against max_runtime_s 600"
    assert runs["runs"][-1]["status"] == "running" and runs["state"]["state"] == "failing"
    assert runs["state"]["next_expected_start"] == runs["state"]["must_start_by"] - 60, "the deadline less the grace"
    assert "next start expected" in driver.find_element(By.ID, "job-state").text
    chart = driver.find_element(By.ID, "chart-runs")
    assert chart.get_attribute("data-points") == str(22 + 3), "every run and every missed start is a moment drawn"
    assert "max runtime 600 s" in chart.get_attribute("data-series").split("|")
    rows = driver.find_elements(By.CSS_SELECTOR, "#runs-table tbody tr")
    assert len(rows) == 22 and rows[0].get_attribute("data-status") == "running", "newest first"
    failed = driver.find_elements(By.CSS_SELECTOR, "#runs-table tr[data-status='failure']")
    assert "ConnectionError: upstream refused" in failed[0].text
    assert "3 missed starts" in driver.page_source
    assert csp_violations(driver) == []
    save_screenshot(driver, output_dir / "job-nightly-export.png")


def test_an_incident_page_in_headless_chromium(web, relops_env, db, clean_tables, driver, output_dir):
    incident_id = seed(db, relops_env["REDIS_URL"])
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops_notifications (incident_id, channel, receiver, kind, severity, payload, status, "
                "attempts, created_at, delivered_at) VALUES (:id, :channel, :receiver, :kind, :severity, '{}', "
                ":status, :attempts, now() + make_interval(secs => :after), "
                "CASE WHEN :status = 'delivered' THEN now() + make_interval(secs => :after + 1) END)"
            ),
            [
                {
                    "id": incident_id,
                    "channel": "webhook",
                    "receiver": "team-a",
                    "kind": "firing",
                    "severity": "warning",
                    "status": "delivered",
                    "attempts": 1,
                    "after": 5,
                },
                {
                    "id": incident_id,
                    "channel": "email",
                    "receiver": "email",
                    "kind": "firing",
                    "severity": "critical",
                    "status": "dead",
                    "attempts": 3,
                    "after": 60,
                },
                {
                    "id": incident_id,
                    "channel": "webhook",
                    "receiver": "oncall",
                    "kind": "escalation",
                    "severity": "critical",
                    "status": "delivered",
                    "attempts": 2,
                    "after": 900,
                },
            ],
        )
        conn.execute(
            text(
                "UPDATE ops_incidents SET escalations = jsonb_build_array(jsonb_build_object("
                "'at', to_char((now() + interval '899 seconds') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                "'to', 'oncall', 'after_s', 900)) WHERE id = :id"
            ),
            {"id": incident_id},
        )
    wait = WebDriverWait(driver, 20)
    sign_in(driver, web, wait)
    wait.until(ec.visibility_of_element_located((By.ID, "status")))
    driver.find_element(By.CSS_SELECTOR, f"#incidents a[href='/incidents/{incident_id}']").click()
    wait.until(ec.visibility_of_element_located((By.ID, "timeline")))
    kinds = [row.get_attribute("data-kind") for row in driver.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")]
    assert kinds == ["opened", "seen", "notification", "notification", "escalated", "notification"], kinds
    text_of = driver.find_element(By.ID, "timeline").text
    assert "firing to team-a (webhook): delivered, 1 attempt(s)" in text_of
    assert "firing to email (email): dead, 3 attempt(s)" in text_of and "to oncall after 900 s" in text_of
    # Acknowledge from the page: the ack lands in the timeline with who did it.
    driver.find_element(By.XPATH, "//button[normalize-space()='ack']").click()
    wait.until(ec.visibility_of_element_located((By.ID, "status")))
    driver.get(f"{web}/incidents/{incident_id}")
    acknowledged = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#timeline tr[data-kind='acknowledged']"))
    assert "via web" in acknowledged[0].text
    assert csp_violations(driver) == []
    save_screenshot(driver, output_dir / "incident.png")
