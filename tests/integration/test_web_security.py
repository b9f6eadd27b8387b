"""The dashboard probed as an attacker would, against a real `relops web`: cross-site writes, login
CSRF, planted cookies, sessions that outlive their sign-out, framing, caching, tokens in logs,
validation before authentication; and the sessions, user management, throttling and audit trail
that answer them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
import requests
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from relops.tokens import hash_token
from tests.integration.conftest import run_cli
from tests.integration.queries import incident_status, scalar
from tests.web_support import new_login, running_web, sign_in, web_fixture  # noqa: F401 (the `web` fixture)

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]
TIMEOUT_S = 10
#: What every response must carry (the policy itself is checked below).
SECURITY_HEADERS = {"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def open_incident(db: Engine, flow: str = "checkout") -> int:
    with db.begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO ops_incidents (fingerprint, status, severity, source, title, first_seen, last_seen, "
                "opened_at, occurrences, last_event) VALUES (:f, 'open', 'critical', 'slo', 'burning', now(), now(), "
                "now(), 1, '{}') RETURNING id"
            ),
            {"f": f"slo:{flow}"},
        ).scalar_one()


def form_csrf(session: requests.Session, web: str) -> str:
    """The CSRF token the dashboard's forms carry for this session."""
    page = session.get(web + "/", timeout=TIMEOUT_S).text
    match = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert match, page[:500]
    return match.group(1)


def status_of(session: requests.Session, web: str) -> int:
    return session.get(web + "/api/v1/snapshot", timeout=TIMEOUT_S).status_code


@pytest.fixture
def admin(web: str) -> tuple[str, str, requests.Session]:
    name, token = new_login("admin")
    return name, token, sign_in(web, name, token)


# 1. The JSON API took the session cookie for a write with no CSRF token and no origin check.


def test_the_api_refuses_a_cookie_write_without_csrf_or_from_another_origin(web, db, admin):
    _, token, session = admin
    incident = open_incident(db)
    ack = f"{web}/api/v1/incidents/{incident}/ack"
    csrf = form_csrf(session, web)
    refused = [
        session.post(ack, headers={"Origin": web}, timeout=TIMEOUT_S),  # no token
        session.post(ack, headers={"Origin": web, "X-CSRF-Token": "0" * 64}, timeout=TIMEOUT_S),
        # Flower on another port of the same host, or a sibling subdomain: same site, not same origin.
        session.post(ack, headers={"Sec-Fetch-Site": "same-site", "X-CSRF-Token": csrf}, timeout=TIMEOUT_S),
        session.post(ack, headers={"Origin": "http://127.0.0.1:5555", "X-CSRF-Token": csrf}, timeout=TIMEOUT_S),
        session.post(ack, headers={"X-CSRF-Token": csrf}, timeout=TIMEOUT_S),  # no origin at all
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert incident_status(db, "slo:checkout") == "open"
    same_origin = {"Sec-Fetch-Site": "same-origin", "X-CSRF-Token": csrf}
    assert session.post(ack, headers=same_origin, timeout=TIMEOUT_S).status_code == 200
    # A bearer token is no ambient credential: API clients need neither header.
    resolve = f"{web}/api/v1/incidents/{incident}/resolve"
    assert requests.post(resolve, headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S).status_code == 200
    assert incident_status(db, "slo:checkout") == "resolved"


def test_a_dashboard_form_needs_its_token_and_its_origin(web, db, admin):
    _, _, session = admin
    incident = open_incident(db)
    url = f"{web}/incidents/{incident}/ack"
    csrf = form_csrf(session, web)
    assert (
        session.post(url, data={"csrf": csrf}, headers={"Origin": "http://evil.example"}, timeout=TIMEOUT_S).status_code
        == 403
    )
    assert session.post(url, data={}, headers={"Origin": web}, timeout=TIMEOUT_S).status_code == 403
    assert incident_status(db, "slo:checkout") == "open"
    done = session.post(url, data={"csrf": csrf}, headers={"Origin": web}, timeout=TIMEOUT_S, allow_redirects=False)
    assert done.status_code == 303 and incident_status(db, "slo:checkout") == "acknowledged"


# 2. Login CSRF, and a second session cookie planted by a sibling subdomain.


def test_sign_in_from_another_site_is_refused(web):
    name, token = new_login("admin")
    form = {"name": name, "token": token}
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}, {}):
        response = requests.post(web + "/login", data=form, headers=headers, timeout=TIMEOUT_S, allow_redirects=False)
        assert response.status_code == 403, headers
        assert not response.cookies, headers
    assert sign_in(web, name, token)  # the same form from the login page itself


def test_a_second_session_cookie_makes_the_request_anonymous(web, admin):
    _, _, session = admin
    real = session.cookies.get("relops_session")
    attacker = sign_in(web, *new_login("admin")).cookies.get("relops_session")
    for alone in (real, attacker):  # each works on its own
        assert requests.get(web + "/api/v1/snapshot", cookies={"relops_session": alone}, timeout=TIMEOUT_S).ok
    for cookie in (
        f"relops_session={attacker}; relops_session={real}",
        f"relops_session={real}; relops_session={attacker}",
    ):
        response = requests.get(web + "/api/v1/snapshot", headers={"Cookie": cookie}, timeout=TIMEOUT_S)
        assert response.status_code == 401, cookie
    assert status_of(session, web) == 200


def test_behind_tls_the_cookie_is_secure_and_host_only(relops_env, output_dir):
    env = {**relops_env, "RELOPS_WEB_SECURE_COOKIES": "true", "RELOPS_WEB_TRUSTED_PROXIES": "10.9.9.9"}
    with running_web(env, output_dir / "web-secure.log") as (web, _):
        name, token = new_login("admin")
        response = requests.post(
            web + "/login",
            data={"name": name, "token": token},
            headers={"Origin": web},
            timeout=TIMEOUT_S,
            allow_redirects=False,
        )
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("__Host-relops_session=")
        assert {"httponly", "secure", "samesite=strict", "path=/"} <= {p.strip().lower() for p in cookie.split(";")}
        assert "domain=" not in cookie.lower()
        # An untrusted client cannot claim another address or https through forwarding headers.
        spoofed = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "Authorization": f"Bearer {token}"}
        requests.get(web + "/api/v1/snapshot", headers=spoofed, timeout=TIMEOUT_S)
    log = (output_dir / "web-secure.log").read_text()
    assert "203.0.113.7" not in log


# 3. The cookie held the permanent token; sign-out only asked the browser to forget it.


def test_a_copied_session_cookie_stops_working_at_sign_out(web, db, admin):
    _, token, session = admin
    copied = session.cookies.get("relops_session")
    assert copied and copied != token and token not in copied
    assert scalar(db, "SELECT count(*) FROM ops_sessions WHERE session_hash = :h", h=hash_token(copied)) == 1
    csrf = form_csrf(session, web)
    out = session.post(
        web + "/logout", data={"csrf": csrf}, headers={"Origin": web}, timeout=TIMEOUT_S, allow_redirects=False
    )
    assert out.status_code == 303
    thief = requests.get(web + "/api/v1/snapshot", cookies={"relops_session": copied}, timeout=TIMEOUT_S)
    assert thief.status_code == 401
    assert scalar(db, "SELECT count(*) FROM ops_sessions WHERE session_hash = :h", h=hash_token(copied)) == 0


def test_a_session_ends_after_its_lifetime_and_when_idle_whatever_the_browser_keeps(web, db):
    name, token = new_login("admin")
    lifetime, idle = sign_in(web, name, token), sign_in(web, name, token)
    assert status_of(lifetime, web) == status_of(idle, web) == 200
    with db.begin() as conn:
        conn.execute(
            text("UPDATE ops_sessions SET expires_at = now() - interval '1 second' WHERE session_hash = :h"),
            {"h": hash_token(lifetime.cookies.get("relops_session"))},
        )
        # Idle for longer than RELOPS_WEB_SESSION_IDLE_S (1 h by default), inside its 12 h.
        conn.execute(
            text("UPDATE ops_sessions SET last_used_at = now() - interval '61 minutes' WHERE session_hash = :h"),
            {"h": hash_token(idle.cookies.get("relops_session"))},
        )
    assert status_of(lifetime, web) == 401
    assert status_of(idle, web) == 401
    with db.connect() as conn:
        created, expires = conn.execute(
            text("SELECT created_at, expires_at FROM ops_sessions WHERE session_hash = :h"),
            {"h": hash_token(sign_in(web, name, token).cookies.get("relops_session"))},
        ).one()
    assert expires - created == timedelta(hours=12)


# 4. Users could not be listed, revoked, rotated or re-roled.


def test_users_are_listed_revoked_rotated_and_reroled_and_their_sessions_end(web, db):
    name, token = new_login("admin")
    browser = sign_in(web, name, token)
    bearer = {"Authorization": f"Bearer {token}"}
    listing = run_cli("users", "list")
    assert re.search(rf"{name}\s+admin\s+\S+ \S+\s+active\s+1", listing), listing

    rotated = run_cli("users", "rotate", name).strip().splitlines()[-1]
    assert rotated.startswith("rlp_") and rotated != token
    assert status_of(browser, web) == 401  # rotating ends every session
    assert requests.get(web + "/api/v1/snapshot", headers=bearer, timeout=TIMEOUT_S).status_code == 401
    new_bearer = {"Authorization": f"Bearer {rotated}"}
    assert requests.get(web + "/api/v1/snapshot", headers=new_bearer, timeout=TIMEOUT_S).status_code == 200

    browser = sign_in(web, name, rotated)
    assert f"user {name} is now viewer; 1 session(s) ended" in run_cli("users", "set-role", name, "viewer")
    assert status_of(browser, web) == 401
    assert requests.get(web + "/api/v1/snapshot", headers=new_bearer, timeout=TIMEOUT_S).status_code == 403
    run_cli("users", "set-role", name, "admin")

    browser = sign_in(web, name, rotated)
    assert f"user {name} revoked; 1 session(s) ended" in run_cli("users", "revoke", name)
    assert status_of(browser, web) == 401
    assert requests.get(web + "/api/v1/snapshot", headers=new_bearer, timeout=TIMEOUT_S).status_code == 401
    assert re.search(rf"{name}\s+admin\s+\S+ \S+\s+revoked", run_cli("users", "list"))
    refused = requests.post(
        web + "/login", data={"name": name, "token": rotated}, headers={"Origin": web}, timeout=TIMEOUT_S
    )
    assert refused.status_code == 401


def test_adding_an_existing_name_explains_what_to_do(relops_env):
    from click.testing import CliRunner

    from relops.cli import cli

    name, _ = new_login("viewer")
    result = CliRunner().invoke(cli, ["users", "add", name, "--role", "admin"])
    assert result.exit_code == 1
    assert f"a user named {name!r} exists already (viewer)" in result.output
    assert f"relops users rotate {name}" in result.output and f"relops users set-role {name} ROLE" in result.output


# 5 and 6. No framing, no sniffing, no referrer, nothing cached.


def test_every_response_carries_the_security_headers_and_authenticated_ones_are_never_cached(web, admin):
    _, token, session = admin
    bearer = {"Authorization": f"Bearer {token}"}
    responses = {
        "login page": requests.get(web + "/login", timeout=TIMEOUT_S),
        "dashboard": session.get(web + "/", timeout=TIMEOUT_S),
        "snapshot": requests.get(web + "/api/v1/snapshot", headers=bearer, timeout=TIMEOUT_S),
        "refusal": requests.get(web + "/api/v1/snapshot", timeout=TIMEOUT_S),
        "unknown route": requests.get(web + "/nope", headers=bearer, timeout=TIMEOUT_S),
        "stylesheet": requests.get(web + "/static/relops.css", timeout=TIMEOUT_S),
    }
    assert responses["dashboard"].status_code == responses["snapshot"].status_code == 200
    for what, response in responses.items():
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (what, header)
        if what != "stylesheet":
            assert response.headers.get("Cache-Control") == "no-store", what
    for what, response in responses.items():
        policy = response.headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy, what
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, what
        assert "script-src 'self';" in policy and "connect-src 'self';" in policy, what
    assert "<style" not in responses["dashboard"].text and "style=" not in responses["dashboard"].text
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", responses["dashboard"].text, re.S)
    tags = re.findall(r"<script[^>]*>", responses["dashboard"].text)
    assert scripts and all(body.strip() == "" for body in scripts), "no inline script"
    assert all('src="/static/' in tag for tag in tags), tags
    assert "server" not in {h.lower() for h in responses["dashboard"].headers}  # no "uvicorn" banner


# 7. A token sent in a query string (refused, correctly) was written whole to the access log.


def test_no_token_reaches_the_access_log_however_it_is_sent(web, admin, output_dir):
    name, token, session = admin
    session_id = session.cookies.get("relops_session")
    sent = [
        requests.get(f"{web}/api/v1/snapshot?token={token}", timeout=TIMEOUT_S),
        requests.get(f"{web}/api/v1/snapshot?access_token={token}&format=json", timeout=TIMEOUT_S),
        requests.get(f"{web}/?anything={token}", timeout=TIMEOUT_S),
        requests.get(f"{web}/api/v1/ping/{token}/nightly-export", timeout=TIMEOUT_S),
        requests.get(f"{web}/api/v1/snapshot?session={session_id}", timeout=TIMEOUT_S),
        requests.get(f"{web}/api/v1/snapshot", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S),
        requests.get(f"{web}/", cookies={"relops_session": session_id}, timeout=TIMEOUT_S),
        requests.post(f"{web}/login", data={"name": name, "token": token}, headers={"Origin": web}, timeout=TIMEOUT_S),
    ]
    log = (output_dir / "web.log").read_text(errors="replace")
    for secret in (token, session_id, hash_token(token)):
        assert secret not in log
    assert "/api/v1/ping/***/nightly-export" in log and "snapshot?token=***" in log  # logged, masked
    assert [r.status_code for r in sent[:5]] == [401] * 5  # a token in a URL is never taken


# 8. An anonymous request with a malformed path or body got 422 from validation before its 401.


def test_anonymous_requests_get_401_before_any_validation(web):
    attempts = [
        requests.post(web + "/api/v1/incidents/not-a-number/ack", timeout=TIMEOUT_S),
        requests.post(
            web + "/api/v1/incidents/1/ack",
            data="{not json",
            timeout=TIMEOUT_S,
            headers={"Content-Type": "application/json"},
        ),
        requests.get(web + "/api/v1/audit?limit=lots", timeout=TIMEOUT_S),
        requests.post(web + "/incidents/x/ack", timeout=TIMEOUT_S),
        requests.get(web + "/api/v1/no-such-route", timeout=TIMEOUT_S),
    ]
    assert [r.status_code for r in attempts] == [401] * 5
    assert all("detail" not in r.text or "authentication required" in r.text for r in attempts)


# Throttling, and the audit trail.


def attempt_sign_in(web: str, who: str, secret: str, address: str) -> requests.Response:
    # The test client is on 127.0.0.1, the trusted proxy by default: it may say whom it forwards.
    return requests.post(
        web + "/login",
        data={"name": who, "token": secret},
        headers={"Origin": web, "X-Forwarded-For": address},
        timeout=TIMEOUT_S,
        allow_redirects=False,
    )


def test_failed_sign_ins_from_elsewhere_never_lock_a_user_out(web):
    name, token = new_login("admin")
    # Wrong tokens for the name from many addresses (five used to refuse the right token for 15 min).
    guesses = [attempt_sign_in(web, name, "rlp_guess", f"198.51.100.{i}").status_code for i in range(30)]
    assert guesses == [401] * 30
    assert attempt_sign_in(web, name, token, "198.51.100.200").status_code == 303


def test_repeated_failed_sign_ins_are_throttled_per_address(web):
    name, token = new_login("admin")
    guesses = [attempt_sign_in(web, f"nobody-{i}", "rlp_guess", "192.0.2.50").status_code for i in range(20)]
    assert guesses == [401] * 20
    throttled = attempt_sign_in(web, name, token, "192.0.2.50")  # refused unchecked from that address
    assert throttled.status_code == 429 and 0 < int(throttled.headers["Retry-After"]) <= 900
    assert attempt_sign_in(web, name, token, "192.0.2.51").status_code == 303  # others are unaffected


def test_a_valid_token_buys_an_address_no_more_guesses(web):
    name, token = new_login("admin")
    assert [attempt_sign_in(web, name, "rlp_guess", "192.0.2.60").status_code for _ in range(19)] == [401] * 19
    assert attempt_sign_in(web, name, token, "192.0.2.60").status_code == 303
    assert attempt_sign_in(web, name, "rlp_guess", "192.0.2.60").status_code == 401
    assert attempt_sign_in(web, name, token, "192.0.2.60").status_code == 429


def test_ipv6_sign_ins_are_throttled_per_64_block(web):
    name, token = new_login("admin")
    guesses = [attempt_sign_in(web, name, "rlp_guess", f"2001:db8:5:7::{i:x}").status_code for i in range(1, 21)]
    assert guesses == [401] * 20
    assert attempt_sign_in(web, name, token, "2001:db8:5:7:ffff::1").status_code == 429  # same /64
    assert attempt_sign_in(web, name, token, "2001:db8:5:8::1").status_code == 303  # the next /64


# Bodies: the sign-in form is public, so it takes only what the form sends; every body is capped.


def test_sign_in_refuses_multipart_files_and_floods_of_fields(web):
    name, token = new_login("admin")

    def post(form: bool = False, **kwargs) -> requests.Response:
        headers = {"Origin": web, **(FORM if form else {})}
        return requests.post(web + "/login", headers=headers, timeout=TIMEOUT_S, allow_redirects=False, **kwargs)

    # Multipart: a file part, and many fields (Starlette would parse up to 1,000 of 1 MB each).
    upload = post(data={"name": name, "token": token}, files={"f": ("f.bin", b"x" * 1024)})
    assert upload.status_code == 415 and "application/x-www-form-urlencoded" in upload.text
    assert post(files=[(f"f{i}", (None, "y" * 64)) for i in range(300)]).status_code == 415
    assert post(files=[(f"f{i}", (None, "y" * 64)) for i in range(1_000)]).status_code == 413  # over the app's cap
    # Urlencoded, but larger than the form sends: declared, or streamed without a length.
    assert post(data={"name": name, "token": token, "pad": "z" * 1_000_000}).status_code == 413
    assert post(data={"name": name, "token": token, "pad": "z" * 10_000}).status_code == 413
    assert post(form=True, data=iter([b"name=", b"z" * 5_000, b"&token=x"])).status_code == 413
    # Small, but a flood of fields, or not text.
    assert post(form=True, data="&".join(["a="] * 300)).status_code == 400
    assert post(form=True, data=b"name=%ff&token=x").status_code == 400
    assert post(data={"name": name, "token": token}).status_code == 303  # the form itself still works


def test_every_body_is_capped_declared_or_streamed(web, admin):
    _name, token, _session = admin
    bearer = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    big = json.dumps({"matchers": ["flow=checkout"], "duration": "1h", "reason": "r" * 200_000}).encode()
    declared = requests.post(web + "/api/v1/silences", data=big, headers=bearer, timeout=TIMEOUT_S)
    assert declared.status_code == 413 and "larger than 65536 bytes" in declared.json()["detail"]
    assert SECURITY_HEADERS.items() <= declared.headers.items()
    chunks = (big[i : i + 16_384] for i in range(0, len(big), 16_384))  # chunked: no Content-Length
    streamed = requests.post(web + "/api/v1/silences", data=chunks, headers=bearer, timeout=TIMEOUT_S)
    assert streamed.status_code == 413 and "larger than 65536 bytes" in streamed.json()["detail"]
    # Anonymous callers are still refused before any body is looked at.
    anonymous = requests.post(web + "/api/v1/silences", data=big, timeout=TIMEOUT_S)
    assert anonymous.status_code == 401
    assert status_of(requests.Session(), web) == 401  # and the server is still answering


def test_every_change_is_audited_with_who_when_where_and_what(web, db, admin, output_dir):
    name, token, session = admin
    first, second, third = open_incident(db, "checkout"), open_incident(db, "login"), open_incident(db, "search")
    csrf = form_csrf(session, web)
    session.post(f"{web}/incidents/{first}/ack", data={"csrf": csrf}, headers={"Origin": web}, timeout=TIMEOUT_S)
    requests.post(
        f"{web}/api/v1/incidents/{second}/resolve",
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": "203.0.113.9"},
        timeout=TIMEOUT_S,
    )
    run_cli("incidents", "resolve", str(third))
    user, _ = new_login("viewer")
    run_cli("users", "revoke", user)
    with db.connect() as conn:
        rows = conn.execute(text("SELECT actor, via, source, action, target FROM ops_audit ORDER BY id")).all()
    assert (name, "web", "127.0.0.1", "session.login", f"user {name}") in rows
    assert (name, "web", "127.0.0.1", "incident.ack", f"incident {first}") in rows
    assert (name, "api", "203.0.113.9", "incident.resolve", f"incident {second}") in rows
    cli_rows = [r for r in rows if r.via == "cli"]
    assert [(r.action, r.target) for r in cli_rows][-3:] == [
        ("incident.resolve", f"incident {third}"),
        ("user.add", f"user {user}"),
        ("user.revoke", f"user {user}"),
    ]
    page = session.get(web + "/", timeout=TIMEOUT_S).text
    assert 'id="audit"' in page and f"incident {second}" in page and "203.0.113.9" in page
    assert f"user.revoke user {user}" in run_cli("audit", "--limit", "5").replace(":", "")
    listed = requests.get(
        web + "/api/v1/audit?limit=3", headers={"Authorization": f"Bearer {token}"}, timeout=TIMEOUT_S
    )
    assert [e["action"] for e in listed.json()] == ["user.revoke", "user.add", "incident.resolve"]


@pytest.fixture
def as_role(database_url: str) -> Iterator:
    url = make_url(database_url)
    connections = []

    def connect(role: str) -> psycopg.Connection:
        conn = psycopg.connect(host=url.host, port=url.port, dbname=url.database, user=role, autocommit=True)
        connections.append(conn)
        return conn

    yield connect
    for conn in connections:
        conn.close()


def test_the_audit_trail_can_be_appended_to_but_never_changed_by_relops_roles(as_role, db):
    for role in ("relops_web", "relops_worker"):
        conn = as_role(role)
        conn.execute(
            "INSERT INTO ops_audit (actor, via, source, action, target) VALUES (%s, 'cli', 'test', 'probe', 'x')",
            (role,),
        )
        for statement in ("UPDATE ops_audit SET actor = 'someone else'", "DELETE FROM ops_audit", "TRUNCATE ops_audit"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    assert scalar(db, "SELECT count(*) FROM ops_audit WHERE action = 'probe'") == 2
    web = as_role("relops_web")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        web.execute("UPDATE ops_sessions SET expires_at = now() + interval '1 year'")  # only last_used_at
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        web.execute("UPDATE ops_users SET role = 'admin'")
