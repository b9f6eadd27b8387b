"""Each router of the dashboard on its own: an app with that router alone and the WebDeps that
build_web_deps makes from the run's settings (this run's database as relops_web, its Redis index),
called in this process. The access middleware is not there: the caller it would have identified is
given by overriding ``current_principal``."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from fastapi import APIRouter, FastAPI
from sqlalchemy import text

from relops import redis_keys
from relops.cli import cli
from relops.settings import get_settings
from relops.store.users import User
from relops.web.auth import Principal
from relops.web.deps import WebDeps, build_web_deps, current_principal
from relops.web.routes import api, auth, pages, public
from relops.web.throttle import address_bucket
from tests.integration.queries import scalar
from tests.web_support import new_login

# Starlette's test client asks for httpx2, which the lock does not carry; with httpx it works the same.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    from starlette.testclient import TestClient

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("clean_tables")]
ADMIN = User(id=0, name="router-admin", role="admin")
#: A moment no real clock gives: what a handler stamps with it came from the deps' clock.
FIXED_NOW = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture(scope="module")
def deps(relops_env) -> Iterator[WebDeps]:
    built = build_web_deps(get_settings())
    yield built
    built.engine.dispose()


def client_of(router: APIRouter, deps: WebDeps, principal: Principal | None = None) -> TestClient:
    app = FastAPI()
    app.state.deps = deps
    app.include_router(router)
    if principal is not None:
        app.dependency_overrides[current_principal] = lambda: principal
    return TestClient(app, follow_redirects=False)


def open_incident(db, flow: str = "checkout") -> int:
    with db.begin() as conn:
        return conn.execute(
            text(
                "INSERT INTO ops_incidents (fingerprint, status, severity, source, title, first_seen, last_seen, "
                "opened_at, occurrences, last_event, labels) VALUES (:f, 'open', 'critical', 'slo', :t, now(), "
                "now(), now(), 1, '{}', CAST(:labels AS jsonb)) RETURNING id"
            ),
            {"f": f"slo:{flow}", "t": f"{flow} burning", "labels": f'{{"flow": "{flow}", "source": "slo"}}'},
        ).scalar_one()


def test_the_public_router_answers_the_health_check_and_the_static_files_are_served(deps):
    with client_of(public.router, deps) as client:
        assert client.get("/healthz").json() == {"ok": True}
    app = FastAPI()
    app.mount("/static", public.static_files(), name="static")
    with TestClient(app) as client:
        stylesheet = client.get("/static/relops.css")
    assert stylesheet.status_code == 200 and stylesheet.headers["content-type"].startswith("text/css")


def test_the_auth_router_signs_in_counts_failures_and_signs_out(deps, db):
    name, token = new_login("admin")
    with client_of(auth.router, deps) as client:
        assert client.get("/login").status_code == 200
        refused = client.post("/login", data={"name": name, "token": "rlp_wrong"})
        assert refused.status_code == 401 and "Unknown user name or token." in refused.text
        assert deps.redis.get(redis_keys.login_failures("address", address_bucket("testclient"))) == b"1"
        signed_in = client.post("/login", data={"name": name, "token": token})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
        session_id = signed_in.cookies["relops_session"]
    sessions = "SELECT count(*) FROM ops_sessions JOIN ops_users ON ops_users.id = user_id WHERE name = :name"
    assert scalar(db, sessions, name=name) == 1
    user = User(id=scalar(db, "SELECT id FROM ops_users WHERE name = :name", name=name), name=name, role="admin")
    browser = Principal(user, "web", session_id=session_id)
    with client_of(auth.router, deps, browser) as client:
        assert client.post("/logout", data={"csrf": "wrong"}).status_code == 403
        out = client.post("/logout", data={"csrf": browser.csrf})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert 'relops_session=""' in out.headers["set-cookie"]
    assert scalar(db, sessions, name=name) == 0


def test_the_api_router_adds_lists_and_expires_a_silence_on_the_deps_clock(deps, db):
    fixed = dataclasses.replace(deps, now=lambda: FIXED_NOW)
    body = {"matchers": ["flow=checkout"], "duration": "1h", "reason": "deploy 4812"}
    with client_of(api.router, fixed, Principal(ADMIN, "api")) as client:
        created = client.post("/api/v1/silences", json=body)
        assert created.status_code == 201, created.text
        silence_id = created.json()["id"]
        [listed] = client.get("/api/v1/silences").json()
        assert (listed["id"], listed["state"], listed["created_by"]) == (silence_id, "active", ADMIN.name)
        assert listed["starts_at"] == FIXED_NOW.isoformat()
        assert listed["ends_at"] == (FIXED_NOW + timedelta(hours=1)).isoformat()
        both = client.post("/api/v1/silences", json={**body, "ends_at": "2031-03-04T09:00:00Z"})
        assert both.status_code == 422 and both.json()["detail"]["field"] == "ends_at"
        assert client.delete(f"/api/v1/silences/{silence_id}").json() == {
            "silence": silence_id,
            "expired": True,
            "muted": 0,
        }
        assert client.delete(f"/api/v1/silences/{silence_id}").status_code == 404
    assert scalar(db, "SELECT string_agg(action, ',' ORDER BY id) FROM ops_audit") == "silence.add,silence.expire"


def test_the_api_router_acknowledges_and_resolves_an_incident_once(deps, db):
    incident_id = open_incident(db)
    with client_of(api.router, deps, Principal(ADMIN, "api")) as client:
        assert client.post(f"/api/v1/incidents/{incident_id}/ack").json() == {"incident": incident_id, "action": "ack"}
        assert client.post(f"/api/v1/incidents/{incident_id}/resolve").status_code == 200
        again = client.post(f"/api/v1/incidents/{incident_id}/resolve")
        assert again.status_code == 409
        assert (
            again.json()["detail"] == f"incident {incident_id} does not exist or cannot become resolved from its status"
        )
        assert client.post(f"/api/v1/incidents/{incident_id}/reopen").status_code == 404
        story = client.get(f"/api/v1/incidents/{incident_id}").json()
        assert story["status"] == "resolved" and story["title"] == "checkout burning"
        snap = client.get("/api/v1/snapshot").json()
    assert {"checkout", "login"} <= {flow["flow"] for flow in snap["flows"]}
    assert scalar(db, "SELECT string_agg(actor || ' ' || action, ',' ORDER BY id) FROM ops_audit") == (
        f"{ADMIN.name} incident.ack,{ADMIN.name} incident.resolve"
    )


def test_the_pages_router_renders_the_dashboard_and_takes_its_forms(deps, db):
    incident_id = open_incident(db)
    with client_of(pages.router, deps, Principal(ADMIN, "api")) as client:
        page = client.get("/")
        assert page.status_code == 200 and ADMIN.name in page.text and "checkout" in page.text
        assert client.get("/flows/checkout").status_code == 200
        assert client.get("/flows/no-such-flow").status_code == 404
        assert client.get(f"/incidents/{incident_id}").status_code == 200
        done = client.post(f"/incidents/{incident_id}/ack", data={})
        assert done.status_code == 303 and done.headers["location"] == "/"
        form = {"matcher": "flow=checkout", "duration": "1h", "reason": "from the form"}
        assert client.post("/silences", data=form).headers["location"] == "/#silences"
        refused = client.post("/silences", data={**form, "duration": ""})
        assert refused.status_code == 422 and "duration" in refused.text
    assert scalar(db, f"SELECT status FROM ops_incidents WHERE id = {incident_id}") == "acknowledged"
    assert scalar(db, "SELECT reason FROM ops_silences") == "from the form"


def test_a_signed_in_form_without_its_token_is_refused_by_the_pages_router(deps, db):
    incident_id = open_incident(db)
    browser = Principal(ADMIN, "web", session_id="a-session-id")
    with client_of(pages.router, deps, browser) as client:
        refused = client.post(f"/incidents/{incident_id}/ack", data={"csrf": "wrong"})
        assert refused.status_code == 403 and "missing or wrong form token" in refused.text
        accepted = client.post(f"/incidents/{incident_id}/ack", data={"csrf": browser.csrf})
        assert accepted.status_code == 303
    assert scalar(db, f"SELECT status FROM ops_incidents WHERE id = {incident_id}") == "acknowledged"


def test_the_cli_and_the_api_refuse_an_end_and_a_duration_in_the_same_words(deps):
    both = {"matchers": ["flow=checkout"], "duration": "1h", "ends_at": "2031-01-01T00:00:00Z", "reason": "x"}
    with client_of(api.router, deps, Principal(ADMIN, "api")) as client:
        reason = client.post("/api/v1/silences", json=both).json()["detail"]["reason"]
    args = ["silence", "add", "-m", "flow=checkout", "--for", "1h", "--end", "2031-01-01T00:00:00Z", "-r", "x"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and f"--for/--end: {reason}" in result.output
