"""docker-compose.yml and its scale-out override stay consistent with relops' own contract: no
Docker engine runs here, so what can be checked without one is checked as data."""

from __future__ import annotations

from pathlib import Path

import yaml

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
    environment = _services("docker-compose.scale.yml")["evaluate"]["environment"]
    settings = Settings(**environment)
    assert settings.redis_url.startswith("sentinel://") and settings.redis_sentinel_master == "relops"
