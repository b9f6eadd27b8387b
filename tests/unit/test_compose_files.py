"""docker-compose.yml and its scale-out override stay consistent with relops' own contract: no
Docker engine runs here, so what can be checked without one is checked as data."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url

from relops.redaction import mask_password
from relops.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
NEW_IN_SCALE = {"redis-replica", "redis-sentinel-1", "redis-sentinel-2", "redis-sentinel-3"}


def _services(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())["services"]


def _known_variables() -> set[str]:
    return {
        field.validation_alias for field in Settings.model_fields.values() if isinstance(field.validation_alias, str)
    }


def test_the_scale_override_only_adds_redis_sentinels_and_changes_services_that_exist():
    base, scale = _services("docker-compose.yml"), _services("docker-compose.scale.yml")
    assert set(scale) - set(base) == NEW_IN_SCALE
    relops_services = [name for name, spec in base.items() if spec.get("image") == "relops:dev"]
    assert relops_services and all(name in scale for name in relops_services)


def test_every_relops_variable_the_compose_files_set_is_one_relops_reads():
    known = _known_variables() | {"PGPASSWORD"}  # read by libpq through psycopg
    for name in ("docker-compose.yml", "docker-compose.scale.yml"):
        for service, spec in _services(name).items():
            environment = spec.get("environment")
            if not isinstance(environment, dict) or spec.get("image", "relops:dev") != "relops:dev":
                continue
            unknown = set(environment) - known
            assert not unknown, f"{name}: {service} sets {sorted(unknown)}, which relops does not read"


def test_the_sentinel_url_of_the_scale_override_is_valid_for_relops():
    environment = interpolate(
        _services("docker-compose.scale.yml")["evaluate"]["environment"], {"REDIS_RELOPS_PASSWORD": "pw"}
    )
    settings = Settings(**environment)
    assert settings.redis_url.startswith("sentinel://") and settings.redis_sentinel_master == "relops"


# --- Passwords by default: .env generated once, required by compose, one Redis user per client ---

ENV_SCRIPT = ROOT / "deploy" / "compose_env.py"


@pytest.fixture(autouse=True)
def _no_relops_variables_of_this_process(monkeypatch):
    """Settings reads what a compose file does not set from the environment: here, only the file counts."""
    for name in _known_variables():
        monkeypatch.delenv(name, raising=False)


#: Every password docker-compose.yml takes from .env.
SECRET_VARIABLES = {
    "POSTGRES_PASSWORD",
    "PG_WORKER_PASSWORD",
    "PG_WEB_PASSWORD",
    "REDIS_ADMIN_PASSWORD",
    "REDIS_RELOPS_PASSWORD",
    "REDIS_INTAKE_PASSWORD",
    "REDIS_SERVICE_PASSWORD",
    "FLOWER_BASIC_AUTH",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?:(:-|:\?)((?:[^{}]|\$\{[^{}]*\})*))?\}")


class Missing(Exception):
    """A ${VAR:?message} whose variable is unset: compose refuses to start."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """``value`` as docker compose interpolates it from ``env`` (.env): ${VAR}, ${VAR:-default} (which
    may hold a ${...} of its own), ${VAR:?message}, and $$ for a literal $."""
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        name, operator, rest = match.groups()
        if env.get(name):
            return env[name]
        if operator == ":?":
            raise Missing(f"{name}: {rest}")
        return interpolate(rest, env) if operator == ":-" else ""

    literal = "\0"
    return _VARIABLE.sub(one, value.replace("$$", literal)).replace(literal, "$")


def _generated_env(tmp_path: Path) -> dict[str, str]:
    subprocess.run([sys.executable, str(ENV_SCRIPT), str(tmp_path)], check=True, capture_output=True, timeout=30)
    lines = (tmp_path / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def _interpolated(name: str, env: dict[str, str]) -> dict:
    return interpolate(_services(name), env)


def test_the_env_script_writes_every_password_once_owner_only_and_keeps_them(tmp_path):
    env = _generated_env(tmp_path)
    assert set(env) == SECRET_VARIABLES
    path = tmp_path / ".env"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    values = [value.removeprefix("relops:") for value in env.values()]
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{32}", value) for value in values), "URL-safe, 24 random bytes"
    assert len(set(values)) == len(values)
    assert env["FLOWER_BASIC_AUTH"].startswith("relops:")

    # A second run changes nothing: a volume initialised with these passwords keeps working.
    path.write_text(path.read_text() + "RELOPS_WEB_PORT=9090\n")
    assert _generated_env(tmp_path) == {**env, "RELOPS_WEB_PORT": "9090"}
    # A variable taken out (or added to the script later) is generated; the others are kept.
    kept = [line for line in path.read_text().splitlines() if not line.startswith("REDIS_INTAKE_PASSWORD=")]
    path.write_text("\n".join(kept))
    again = _generated_env(tmp_path)
    assert again["REDIS_INTAKE_PASSWORD"] != env["REDIS_INTAKE_PASSWORD"]
    assert again == {**env, "RELOPS_WEB_PORT": "9090", "REDIS_INTAKE_PASSWORD": again["REDIS_INTAKE_PASSWORD"]}
    assert (
        ".env" in (ROOT / ".gitignore").read_text().split() and ".env" in (ROOT / ".dockerignore").read_text().split()
    )


def test_compose_refuses_to_start_without_the_passwords():
    for service in ("postgres", "redis", "migrate", "web", "intake", "evaluate"):
        with pytest.raises(Missing, match="run make compose-env first"):
            interpolate(_services("docker-compose.yml")[service], {})


def test_postgres_asks_every_role_for_its_password(tmp_path):
    env = _generated_env(tmp_path)
    services = _interpolated("docker-compose.yml", env)
    postgres = services["postgres"]["environment"]
    assert postgres["POSTGRES_HOST_AUTH_METHOD"] == "scram-sha-256"
    assert postgres["POSTGRES_PASSWORD"] == env["POSTGRES_PASSWORD"]
    roles = (ROOT / "deploy" / "postgres" / "roles.sh").read_text()
    assert "CREATE ROLE relops_worker LOGIN PASSWORD :'worker_password'" in roles
    assert "CREATE ROLE relops_web LOGIN PASSWORD :'web_password'" in roles
    assert (
        "./deploy/postgres/roles.sh:/docker-entrypoint-initdb.d/relops-roles.sh:ro"
        in _services("docker-compose.yml")["postgres"]["volumes"]
    )
    for name, spec in services.items():
        environment = spec.get("environment") or {}
        assert "PGPASSWORD" not in environment, name
        if spec.get("image") != "relops:dev":
            continue
        settings = Settings(**environment)
        assert make_url(settings.database_url).username == "relops_worker"
        assert make_url(settings.database_url).password == env["PG_WORKER_PASSWORD"]
        # The owner's password only where migrations run; the dashboard as relops_web, with its own.
        assert (settings.admin_database_url is not None) == (name == "migrate"), name
        if name == "web":
            assert make_url(settings.web_db_url).username == "relops_web"
            assert make_url(settings.web_db_url).password == env["PG_WEB_PASSWORD"]


def test_every_relops_process_reaches_redis_as_its_own_user_and_the_intake_as_intake(tmp_path):
    env = _generated_env(tmp_path)
    base = _interpolated("docker-compose.yml", env)
    scale = _interpolated("docker-compose.scale.yml", env)
    relops_services = [name for name, spec in base.items() if spec.get("image") == "relops:dev"]
    for name, layers in (("docker-compose.yml", [base]), ("docker-compose.scale.yml", [base, scale])):
        for service in relops_services:
            # As compose merges an override's environment over the base's.
            environment = {k: v for layer in layers for k, v in layer[service]["environment"].items()}
            settings = Settings(**environment)
            user = "intake" if service == "intake" else "relops"
            password = env[f"REDIS_{user.upper()}_PASSWORD"]
            for url in filter(None, (settings.redis_url, settings.celery_broker_url)):
                assert f"//{user}:{password}@" in url, f"{name}: {service} connects as another user"
                assert password not in mask_password(url)


def test_redis_starts_with_the_acl_users_and_no_password_on_any_command_line(tmp_path):
    env = _generated_env(tmp_path)
    base = _interpolated("docker-compose.yml", env)
    scale = _interpolated("docker-compose.scale.yml", env)
    for server in (base["redis"], scale["redis-replica"]):
        assert server["entrypoint"] == ["sh", "/etc/relops/redis-start.sh"]
        assert server["environment"] == {k: v for k, v in env.items() if k.startswith("REDIS_")}
        assert "./deploy/redis/users.sh:/etc/relops/redis-users.sh:ro" in _volumes(server)
    assert "REDISCLI_AUTH=" in base["redis"]["healthcheck"]["test"][1]
    sentinel = scale["redis-sentinel-1"]["command"][2]
    assert "sentinel auth-user relops default" in sentinel and '"$REDIS_ADMIN_PASSWORD"' in sentinel
    secrets = {value.removeprefix("relops:") for value in env.values()}
    for name, services in (("docker-compose.yml", base), ("docker-compose.scale.yml", scale)):
        for service, spec in services.items():
            argv = json.dumps([spec.get("command"), spec.get("entrypoint"), spec.get("healthcheck")])
            # Flower's --basic-auth is its own sign-in, not a password of PostgreSQL or Redis.
            leaked = {s for s in secrets if s in argv and service != "flower"}
            assert not leaked, f"{name}: {service} puts a password on a command line"


def _volumes(spec: dict) -> list[str]:
    return list(spec.get("volumes") or [])
