"""The dashboard and API against a real `relops web` process: who may read what, and the
database roles underneath (the design's P1 finding #2)."""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import quote

import psycopg
import pytest
import requests
from sqlalchemy import text
from sqlalchemy.engine import make_url

from models import Base
from relops.store.outcomes import rebuild_days
from relops.tokens import hash_token
from tests.web_support import new_login, new_user, sign_in, web_fixture  # noqa: F401 (the `web` fixture)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tokens(relops_env) -> dict[str, str]:
    return {"admin": new_user(relops_env, "admin"), "viewer": new_user(relops_env, "viewer")}


def bearer(token):
    return {"Authorization": f"Bearer {token}"} if token else {}


ENDPOINTS = [
    ("GET", "/api/v1/snapshot"),
    ("GET", "/"),
    ("POST", "/api/v1/incidents/1/ack"),
    ("GET", "/api/v1/flows/checkout/series"),
    ("GET", "/flows/checkout"),
    ("GET", "/api/v1/jobs/nightly-export/runs"),
    ("GET", "/jobs/nightly-export"),
    ("GET", "/api/v1/incidents/1"),
    ("GET", "/api/v1/flows/budgets"),
    ("GET", "/incidents/1"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize(("who", "expected"), [(None, 401), ("viewer", 403), ("wrong", 401)])
def test_nobody_but_admins_reads_ops_data(web, tokens, method, path, who, expected):
    token = {"viewer": tokens["viewer"], "wrong": "rlp_not-a-real-token", None: None}[who]
    response = requests.request(method, web + path, headers=bearer(token), timeout=10, allow_redirects=False)
    assert response.status_code == expected
    assert "checkout" not in response.text  # no ops data leaks into refusals


def test_admin_reads_the_snapshot_and_the_dashboard(web, tokens):
    snap = requests.get(web + "/api/v1/snapshot", headers=bearer(tokens["admin"]), timeout=10).json()
    assert snap["status"] in ("HEALTHY", "WARNING", "CRITICAL")
    assert {f["flow"] for f in snap["flows"]} >= {"checkout", "login"}
    assert {"postgres", "webhook"} <= set(snap["breakers"])
    page = requests.get(web + "/", headers=bearer(tokens["admin"]), timeout=10)
    assert page.status_code == 200
    assert 'id="status"' in page.text and 'id="burn-rates"' in page.text and 'id="breakers"' in page.text
    # A hostile flow name from the config is escaped, never markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "<script>alert(1)" not in page.text
    assert requests.get(web + "/api/openapi.json", timeout=10).status_code == 401
    schema = requests.get(web + "/api/openapi.json", headers=bearer(tokens["admin"]), timeout=10).json()
    assert schema["paths"]["/api/v1/snapshot"]
    # Every flow has its page, linked from the dashboard, the hostile name as one escaped path segment.
    hostile = next(name for name in (f["flow"] for f in snap["flows"]) if "<" in name)
    segment = quote(hostile, safe="")
    assert f'href="/flows/{segment.replace("&", "&amp;")}"' in page.text
    flow_page = requests.get(f"{web}/flows/{segment}?range=24h", headers=bearer(tokens["admin"]), timeout=10)
    assert flow_page.status_code == 200 and "&lt;script&gt;alert(1)&lt;/script&gt;" in flow_page.text
    assert "<script>alert(1)" not in flow_page.text and 'id="series-table"' in flow_page.text
    series = requests.get(f"{web}/api/v1/flows/{segment}/series?range=24h", headers=bearer(tokens["admin"]), timeout=10)
    assert series.status_code == 200 and series.json()["flow"] == hostile and len(series.json()["points"]) == 24
    unknown_range = requests.get(
        f"{web}/api/v1/flows/checkout/series?range=1y", headers=bearer(tokens["admin"]), timeout=10
    )
    assert unknown_range.status_code == 422 and unknown_range.json()["detail"]["field"] == "range"
    assert (
        requests.get(f"{web}/api/v1/flows/nope/series", headers=bearer(tokens["admin"]), timeout=10).status_code == 404
    )
    admin = bearer(tokens["admin"])
    assert requests.get(f"{web}/jobs/nightly-export?range=24h", headers=admin, timeout=10).status_code == 200
    assert requests.get(f"{web}/api/v1/jobs/nope/runs", headers=admin, timeout=10).status_code == 404
    assert (
        requests.get(f"{web}/api/v1/jobs/nightly-export/runs?range=period", headers=admin, timeout=10).status_code
        == 422
    )
    for docs in ("/api/docs", "/docs", "/redoc"):  # pages that would load scripts from a CDN: gone
        assert requests.get(web + docs, headers=bearer(tokens["admin"]), timeout=10).status_code == 404


def test_login_sets_a_session_and_forms_need_their_csrf_token(web, db):
    admin_name, admin_token = new_login("admin")
    refused = requests.post(
        web + "/login", data={"name": admin_name, "token": "rlp_wrong"}, headers={"Origin": web}, timeout=10
    )
    assert refused.status_code == 401 and "Unknown user name or token" in refused.text
    session = sign_in(web, admin_name, admin_token)
    [cookie] = list(session.cookies)
    assert cookie.name == "relops_session" and cookie.value not in (admin_token, hash_token(admin_token))
    page = session.get(web + "/", timeout=10)
    assert page.status_code == 200 and f"Signed in as {admin_name}" in page.text
    forged = session.post(web + "/incidents/1/ack", data={"csrf": "forged"}, headers={"Origin": web}, timeout=10)
    assert forged.status_code == 403
    viewer = sign_in(web, *new_login("viewer"))
    assert viewer.get(web + "/", timeout=10).status_code == 403


def test_admin_acks_and_resolves_an_incident_through_the_api(web, tokens, db, clean_tables):
    with db.begin() as conn:
        incident_id = conn.execute(
            text(
                "INSERT INTO ops_incidents (fingerprint, status, severity, source, title, first_seen, last_seen, "
                "opened_at, occurrences, last_event) VALUES ('slo:checkout', 'open', 'critical', 'slo', 't', now(), "
                "now(), now(), 1, '{}') RETURNING id"
            )
        ).scalar()
    admin = bearer(tokens["admin"])
    assert requests.post(f"{web}/api/v1/incidents/{incident_id}/ack", headers=admin, timeout=10).status_code == 200
    assert requests.post(f"{web}/api/v1/incidents/{incident_id}/ack", headers=admin, timeout=10).status_code == 409
    assert requests.post(f"{web}/api/v1/incidents/{incident_id}/resolve", headers=admin, timeout=10).status_code == 200
    with db.connect() as conn:
        assert conn.execute(text("SELECT status FROM ops_incidents")).scalar() == "resolved"


def test_tokens_are_stored_hashed(relops_env, db):
    token = new_user(relops_env, "viewer")
    with db.connect() as conn:
        hashes = [r[0] for r in conn.execute(text("SELECT token_hash FROM ops_users"))]
    assert token not in hashes
    assert hashlib.sha256(token.encode()).hexdigest() in hashes


# Every table the models define: a table added later is covered without editing this test.
OPS_TABLES = sorted(t for t in Base.metadata.tables if t.startswith("ops_"))


def connect_as(database_url: str, role: str) -> psycopg.Connection:
    url = make_url(database_url)
    return psycopg.connect(host=url.host, port=url.port, dbname=url.database, user=role, autocommit=True)


def test_no_role_but_relops_own_can_read_ops_tables(database_url):
    outsider = f"relops_outsider_{uuid.uuid4().hex[:8]}"
    url = make_url(database_url)
    admin = psycopg.connect(host=url.host, port=url.port, dbname=url.database, user=url.username, autocommit=True)
    admin.execute(f"CREATE ROLE {outsider} LOGIN")
    try:
        with connect_as(database_url, outsider) as conn:
            for table in OPS_TABLES:
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(f"SELECT 1 FROM {table} LIMIT 1")
        with connect_as(database_url, "relops_web") as conn:
            for table in OPS_TABLES:
                conn.execute(f"SELECT 1 FROM {table} LIMIT 1")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("INSERT INTO ops_alert_events (dedup_key) VALUES ('x')")
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM ops_flow_minutes")
        with connect_as(database_url, "relops_worker") as conn:
            conn.execute("SELECT 1 FROM ops_incidents LIMIT 1")
            # The intake (a worker role) links Slack users to relops users: it reads who they are,
            # never their token hash, nor may it change a user.
            conn.execute("SELECT id, name, role, revoked_at, slack_user_id FROM ops_users LIMIT 1")
            for forbidden in (
                "SELECT token_hash FROM ops_users LIMIT 1",
                "SELECT * FROM ops_users LIMIT 1",
                "UPDATE ops_users SET role = 'admin'",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    conn.execute(forbidden)
    finally:
        admin.execute(f"DROP ROLE {outsider}")
        admin.close()


def test_no_token_reaches_the_web_log(web, tokens, output_dir):
    """Tokens travel in headers, cookies and the login form: none of them is ever logged."""
    requests.post(web + "/login", data={"token": tokens["admin"]}, timeout=10)
    requests.get(web + "/api/v1/snapshot", headers=bearer(tokens["viewer"]), timeout=10)
    requests.get(web + "/api/v1/snapshot", headers=bearer("rlp_not-a-real-token"), timeout=10)
    log = (output_dir / "web.log").read_text(errors="replace")
    assert "/api/v1/snapshot" in log  # the requests were logged, so this check can fail
    for token in (*tokens.values(), "rlp_not-a-real-token"):
        assert token not in log


def test_a_flows_charts_leave_out_what_a_correction_covers_as_its_evaluation_does(web, tokens, db, clean_tables):
    """48 quiet hours of payments, then one hour of 500 failures that an operator corrected: the
    chart draws the failures as events but counts none of them in the burn rates or the budget."""
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops_flow_hours (flow, hour, good, bad) SELECT 'payments', "
                "date_trunc('hour', now()) - make_interval(hours => h), 1000, CASE WHEN h = 5 THEN 500 ELSE 0 END "
                "FROM generate_series(0, 47) h"
            )
        )
        rebuild_days(conn, ["payments"])
        conn.execute(
            text(
                "INSERT INTO ops_slo_corrections (flow, starts_at, ends_at, reason, created_by) VALUES ('payments', "
                "date_trunc('hour', now()) - interval '5 hours', date_trunc('hour', now()) - interval '4 hours', "
                "'bad deploy, refunded', 'admin')"
            )
        )
    series = requests.get(
        f"{web}/api/v1/flows/payments/series?range=24h", headers=bearer(tokens["admin"]), timeout=10
    ).json()
    assert [c["reason"] for c in series["corrections"]] == ["bad deploy, refunded"]
    assert sum(series["bad"]) == 500, "the failures happened and are drawn"
    assert series["budget_remaining_percent"][-1] == 100.0, "none of them spend the budget"
    assert all(rate in (0.0, None) for window in series["windows"] for rate in window["burn_rates"])
