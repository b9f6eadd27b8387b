"""Access rules hold while PostgreSQL is unreachable, and come back with it, without a restart.

A real `relops web` process reaches PostgreSQL through a switchable TCP proxy (the shared server
is never touched). With the proxy off, tokens cannot be looked up: nobody may get ops data or a
200, a refusal must not turn into a pass (fail open), and an admin gets a 503 that says the
database is unavailable, never a 500 or a traceback, a DSN or a secret. With the proxy back, the
same process serves admins again and still refuses everyone else.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from tests.integration.conftest import RESEND_KEY, WEBHOOK_SECRET_PATH, wait_for
from tests.tcp_proxy import TcpProxy
from tests.web_support import free_port, new_user, running_web

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]
TIMEOUT_S = 15


@dataclass
class FaultyWeb:
    url: str
    process: subprocess.Popen
    proxy: TcpProxy
    database_url: str


@pytest.fixture(scope="module")
def faulty_web(relops_env: dict[str, str], output_dir: Path) -> Iterator[FaultyWeb]:
    """`relops web` whose database connection (as relops_web) goes through a TcpProxy."""
    database = make_url(relops_env["DATABASE_URL"])
    proxy = TcpProxy((database.host, database.port), free_port())
    proxy.start()
    web_url = database.set(username="relops_web", port=proxy.port).render_as_string(hide_password=False)
    try:
        with running_web({**relops_env, "RELOPS_WEB_DATABASE_URL": web_url}, output_dir / "web-faults.log") as (
            url,
            process,
        ):
            yield FaultyWeb(url, process, proxy, web_url)
    finally:
        proxy.stop()


@contextmanager
def database_cut_off(proxy: TcpProxy) -> Iterator[None]:
    """PostgreSQL unreachable through ``proxy`` inside the block; reachable again after it, even when
    the block fails (the module's other tests share the proxy)."""
    proxy.stop()
    try:
        yield
    finally:
        proxy.start()


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    form: bool = False  # a dashboard form (a bearer token needs no CSRF token; a session would)

    def call(self, base: str, token: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = {"csrf": "-"} if self.form else None
        return requests.request(
            self.method, base + self.path, headers=headers, data=data, timeout=TIMEOUT_S, allow_redirects=False
        )


def endpoints(incident_id: int) -> list[Endpoint]:
    """Every ops endpoint and page (test_web_access.ENDPOINTS), plus the dashboard's own forms."""
    return [
        Endpoint("GET", "/api/v1/snapshot"),
        Endpoint("GET", "/"),
        Endpoint("POST", f"/api/v1/incidents/{incident_id}/ack"),
        Endpoint("POST", f"/api/v1/incidents/{incident_id}/resolve"),
        Endpoint("POST", f"/incidents/{incident_id}/ack", form=True),
    ]


def open_incident(db: Engine) -> int:
    with db.begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO ops_incidents (fingerprint, status, severity, source, title, first_seen, last_seen, "
                "opened_at, occurrences, last_event) VALUES ('slo:checkout', 'open', 'critical', 'slo', "
                "'checkout burning', now(), now(), now(), 1, '{}') RETURNING id"
            )
        ).scalar_one()


def incident_status(db: Engine, incident_id: int) -> str:
    with db.connect() as conn:
        return conn.execute(text("SELECT status FROM ops_incidents WHERE id = :id"), {"id": incident_id}).scalar_one()


@pytest.fixture(scope="module")
def tokens(relops_env: dict[str, str]) -> dict[str, str]:
    return {"admin": new_user(relops_env, "admin"), "viewer": new_user(relops_env, "viewer")}


WRONG_TOKEN = "rlp_not-a-real-token"


def never_shown(faulty_web: FaultyWeb, tokens: dict[str, str]) -> dict[str, str]:
    """What no refusal or error may contain, by what it is."""
    dsn = make_url(faulty_web.database_url)
    return {
        # Ops data: a flow's name (also in the test incident's title) and the dashboard's tables.
        "flow name": "checkout",
        "burn-rate table": "burn-rates",
        # Internals a 500 page or a careless handler would show.
        "traceback": "Traceback",
        "driver": "psycopg",
        "ORM": "sqlalchemy",
        "DSN scheme": "postgresql",
        "database name": str(dsn.database),
        "database address": f"{dsn.host}:{dsn.port}",
        "database port": f"port {dsn.port}",
        "database user": "relops_web",
        # Credentials.
        "admin token": tokens["admin"],
        "viewer token": tokens["viewer"],
        "webhook secret": WEBHOOK_SECRET_PATH.rsplit("/", 1)[-1],
        "Resend key": RESEND_KEY,
    }


def assert_reveals_nothing(response: requests.Response, forbidden: dict[str, str], where: str) -> None:
    """No ops data, no internals, no credential in a refusal or an error."""
    for what, value in forbidden.items():
        assert value not in response.text, f"{where}: the body shows the {what}: {response.text[:300]!r}"
    for header, value in response.headers.items():
        for what, secret in forbidden.items():
            assert secret not in value, f"{where}: header {header} shows the {what}"


def test_access_rules_hold_through_a_database_outage(faulty_web: FaultyWeb, tokens: dict[str, str], db: Engine) -> None:
    web, proxy = faulty_web.url, faulty_web.proxy
    admin, viewer = tokens["admin"], tokens["viewer"]
    incident_id = open_incident(db)
    routes = endpoints(incident_id)
    forbidden = {**never_shown(faulty_web, tokens), "server error": "Internal Server Error"}
    snapshot, dashboard = Endpoint("GET", "/api/v1/snapshot"), Endpoint("GET", "/")
    # Up: the rules as documented, so the outage below starts from a working service.
    assert snapshot.call(web, admin).status_code == 200
    assert snapshot.call(web, viewer).status_code == 403

    with database_cut_off(proxy):  # PostgreSQL unreachable for relops web, established connections cut too
        for route in routes:
            where = f"{route.method} {route.path}"
            for who, token, allowed in (
                ("anonymous", None, {401, 503}),
                ("a wrong token", WRONG_TOKEN, {401, 503}),
                ("a viewer", viewer, {403, 503}),
                ("an admin", admin, {503}),
            ):
                response = route.call(web, token)
                got = f"{where} as {who}: {response.status_code} {response.text[:300]!r}"
                assert response.status_code in allowed, got
                assert_reveals_nothing(response, forbidden, f"{where} as {who}")
                if response.status_code == 503:
                    # A clear error: it names the cause and when to try again.
                    assert "database" in response.text.lower() and "unavailable" in response.text.lower(), where
                    assert response.headers.get("Retry-After"), where
            assert route.call(web, None).status_code == 401, f"{where}: no token needs no database to refuse"
        # The API answers in JSON, pages in HTML.
        assert snapshot.call(web, admin).headers["content-type"].startswith("application/json")
        assert dashboard.call(web, admin).headers["content-type"].startswith("text/html")
        # Signing in cannot succeed either: no session cookie for an unverified token.
        login = requests.post(
            web + "/login",
            data={"name": "anyone", "token": admin},
            headers={"Origin": web},
            timeout=TIMEOUT_S,
            allow_redirects=False,
        )
        assert login.status_code == 503 and not login.cookies
        assert_reveals_nothing(login, forbidden, "POST /login")
        assert incident_status(db, incident_id) == "open"  # no admin action went through
        assert faulty_web.process.poll() is None

    # Back: the same process recovers, no restart.
    wait_for(lambda: snapshot.call(web, admin).status_code == 200, timeout_s=30, what="admin served again")
    assert {f["flow"] for f in snapshot.call(web, admin).json()["flows"]} >= {"checkout", "login"}
    assert "checkout burning" in dashboard.call(web, admin).text
    for route in routes:
        where = f"{route.method} {route.path}"
        for who, token, expected in (
            ("anonymous", None, 401),
            ("a wrong token", WRONG_TOKEN, 401),
            ("a viewer", viewer, 403),
        ):
            response = route.call(web, token)
            assert response.status_code == expected, f"{where} as {who} after the outage: {response.status_code}"
            assert_reveals_nothing(response, forbidden, f"{where} as {who} after the outage")
    assert Endpoint("POST", f"/api/v1/incidents/{incident_id}/ack").call(web, admin).status_code == 200
    assert incident_status(db, incident_id) == "acknowledged"
    assert Endpoint("POST", f"/incidents/{incident_id}/resolve", form=True).call(web, admin).status_code == 303
    assert incident_status(db, incident_id) == "resolved"
    assert faulty_web.process.poll() is None


def test_a_token_lookup_that_fails_refuses(faulty_web: FaultyWeb, tokens: dict[str, str], db: Engine) -> None:
    """Fail closed: when the users table cannot be read but the ops tables can (a lost grant), a
    token is not taken on trust. Only here would an auth that let errors through show data: in a
    full outage the data is out of reach too."""
    web = faulty_web.url
    incident_id = open_incident(db)
    forbidden = never_shown(faulty_web, tokens)
    with db.begin() as conn:
        conn.execute(text("REVOKE SELECT ON ops_users FROM relops_web"))
    try:
        for route in endpoints(incident_id):
            where = f"{route.method} {route.path}"
            for who, token in (
                ("a wrong token", WRONG_TOKEN),
                ("a viewer", tokens["viewer"]),
                ("an admin", tokens["admin"]),
            ):
                response = route.call(web, token)
                assert response.status_code >= 400, f"{where} as {who}: {response.status_code} {response.text[:300]!r}"
                assert_reveals_nothing(response, forbidden, f"{where} as {who}")
            assert route.call(web, None).status_code == 401, where
        assert incident_status(db, incident_id) == "open"
    finally:
        with db.begin() as conn:
            conn.execute(text("GRANT SELECT ON ops_users TO relops_web"))
    assert Endpoint("GET", "/api/v1/snapshot").call(web, tokens["admin"]).status_code == 200
    assert faulty_web.process.poll() is None
