"""Breaker settings are declared once, by the client: relops' [breakers.NAME] section and the state
machine's rules are made from that declaration. relops' defaults name only its own dependencies."""

from __future__ import annotations

import dataclasses
import math

import pytest
from pydantic import ValidationError
from relops_client.breaker_settings import machine_rules
from relops_client.breakers import BreakerRegistry, settings_from_config
from relops_client.breakers import BreakerSettings as ClientSettings
from relops_client.names import DEFAULT_BREAKERS

from relops.channels.registry import channel_classes
from relops.config import BreakerSettings as ConfigSettings
from relops.config import RelopsConfig, load_config

#: Each setting just inside and just outside its bounds, and values of the wrong kind.
EDGES = {
    "failure_threshold": ([1, 10_000], [0, 10_001, 2.5, True]),
    "failure_rate": ([None, 0.01, 1], [0, 1.01, math.nan]),
    "window_s": ([0.001, 3600], [0, -1, 3601]),
    "min_calls": ([1, 10**9], [0, 10**9 + 1]),
    "latency_threshold_ms": ([None, 0.5, 1e9], [0, -1, math.inf]),
    "open_s": ([0.2, 86400], [0, 86401]),
    "half_open_probes": ([1, 1000], [0, 1001]),
    "probe_lease_s": ([0.3, 3600], [0, 3601]),
    "refresh_s": ([0, 60], [-0.1, 61, math.nan]),
}


def test_relops_config_has_the_clients_keys_and_defaults():
    client_fields = {f.name: f.default for f in dataclasses.fields(ClientSettings)}
    config_fields = {name: f.default for name, f in ConfigSettings.model_fields.items() if name != "labels"}
    assert config_fields == client_fields
    assert set(EDGES) == set(client_fields), "every setting has its edges checked here"


@pytest.mark.parametrize("name", sorted(EDGES))
def test_client_and_config_accept_and_refuse_the_same_values(name):
    accepted, refused = EDGES[name]
    for value in accepted:
        client, config = ClientSettings(**{name: value}), ConfigSettings(**{name: value})
        assert getattr(client, name) == getattr(config, name) == value
        assert machine_rules(client) == machine_rules(config)
    for value in refused:
        with pytest.raises(ValueError, match=name):
            ClientSettings(**{name: value})
        with pytest.raises(ValidationError):
            ConfigSettings(**{name: value})


def test_the_client_names_the_setting_and_the_bound():
    with pytest.raises(ValueError, match=r"open_s must be <= 86400, got 90000"):
        ClientSettings(open_s=90_000)
    with pytest.raises(ValueError, match=r"half_open_probes must be a whole number, got 1.5"):
        ClientSettings(half_open_probes=1.5)


def test_relops_defaults_are_its_own_dependencies():
    """Its database and its channels' default receivers: nothing a service of relops' users calls."""
    own = {"postgres", *(c.default_breaker for c in channel_classes().values() if c.has_default_receiver)}
    assert set(DEFAULT_BREAKERS) == own
    assert set(RelopsConfig().breaker_settings()) == own


def test_a_services_dependency_is_known_once_declared(tmp_path):
    """Not declared, its name is a typo (KeyError); an empty [breakers.NAME] takes the defaults, in the
    client (which reads the same file) and in relops."""
    path = tmp_path / "relops.toml"
    path.write_text(
        '[breakers.webhook]\nopen_s = 5\n\n[breakers.inventory]\nfailure_threshold = 3\nlabels = { team = "a" }\n'
    )
    unconfigured = BreakerRegistry(settings_from_config(str(path)), redis_client=lambda: None)
    with pytest.raises(KeyError, match="unknown dependency 'google_calendar'"):
        unconfigured.get("google_calendar")
    assert unconfigured.get("inventory").settings == ClientSettings(failure_threshold=3)
    assert unconfigured.get("webhook").settings == ClientSettings(open_s=5)
    assert set(settings_from_config(str(path))) == {*DEFAULT_BREAKERS, "inventory"}

    path.write_text(path.read_text() + "\n[breakers.google_calendar]\n")
    assert settings_from_config(str(path))["google_calendar"] == ClientSettings()
    config = load_config(path)
    assert machine_rules(config.breaker_settings()["google_calendar"]) == machine_rules(ClientSettings())
