"""The sentinel:// form of REDIS_URL and CELERY_BROKER_URL: parsed once, refused with a message naming
the variable, translated for kombu, and its passwords never shown."""

from __future__ import annotations

import pytest
from redis.sentinel import SentinelConnectionPool
from relops_client.redis_connect import (
    SentinelUrl,
    broker_kombu_url,
    broker_transport_options,
    parse_sentinel_url,
    redis_from_url,
)

from relops.errors import SettingsError
from relops.localdev.local_servers import endpoints
from relops.redaction import known_secrets, mask_password, url_credentials
from relops.settings import Settings, get_settings


def test_one_sentinel_with_the_defaults():
    assert parse_sentinel_url("sentinel://10.0.0.5") == SentinelUrl(sentinels=(("10.0.0.5", 26379),))


def test_credentials_and_database_written_once_apply_to_every_sentinel():
    parsed = parse_sentinel_url("sentinel://app:pa%40ss@h1:26380;sentinel://h2:26381;sentinel://[::1]/3")
    assert parsed == SentinelUrl((("h1", 26380), ("h2", 26381), ("::1", 26379)), db=3, username="app", password="pa@ss")
    # kombu re-reads a failover entry alone: each carries the password and the database.
    assert parsed.kombu_url() == (
        "sentinel://app:pa%40ss@h1:26380/3;sentinel://app:pa%40ss@h2:26381/3;sentinel://app:pa%40ss@[::1]:26379/3"
    )
    assert parse_sentinel_url(parsed.kombu_url()) == parsed


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sentinel://h1:1/1;sentinel://h2:2/2", "disagree on the database index"),
        ("sentinel://:a@h1:1;sentinel://:b@h2:2", "disagree on the password"),
        ("sentinel://h1:1;redis://h2:6379", "entry 2 must start with sentinel://"),
        ("sentinel://h1:notaport", "entry 1 is not a host:port URL"),
        ("sentinel://h1:1/zero", "must be a database index"),
        ("sentinel://h1:1/0?master=x", "query"),
        ("sentinel://:secret@", "names no host"),
    ],
)
def test_a_malformed_sentinel_url_says_what_is_wrong_without_quoting_it(url, problem):
    with pytest.raises(ValueError) as raised:
        parse_sentinel_url(url)
    assert problem in str(raised.value)
    assert "secret" not in str(raised.value)


def test_settings_name_the_variable_of_a_bad_sentinel_url(monkeypatch):
    monkeypatch.setenv("REDIS_URL", "sentinel://:topsecret@h1:1/1;sentinel://h2:2/2")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as raised:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert "REDIS_URL: the Sentinel entries disagree on the database index" in str(raised.value)
    assert "topsecret" not in str(raised.value)


def test_settings_refuse_a_bad_sentinel_broker_and_a_blank_master_name(monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", "sentinel://h1:1;amqp://h2")
    monkeypatch.setenv("REDIS_SENTINEL_MASTER", "my master")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as raised:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert "CELERY_BROKER_URL: Sentinel entry 2 must start with sentinel://" in str(raised.value)
    assert "REDIS_SENTINEL_MASTER: must be the Sentinels' name for the primary" in str(raised.value)


def test_one_sentinel_url_drives_the_broker_with_the_master_name():
    settings = Settings(
        REDIS_URL="sentinel://:pw@h1:26379;sentinel://h2:26379/2",
        CELERY_BROKER_URL=None,
        REDIS_SENTINEL_MASTER="relops-primary",
        REDIS_SENTINEL_PASSWORD="sentinel-pw",
    )
    assert settings.broker_url == "sentinel://:pw@h1:26379/2;sentinel://:pw@h2:26379/2"
    options = settings.broker_sentinel_options
    assert options["master_name"] == "relops-primary"
    assert options["sentinel_kwargs"]["password"] == "sentinel-pw"
    # A plain broker needs no Sentinel options, whatever REDIS_SENTINEL_MASTER says.
    plain = Settings(REDIS_URL="redis://h:6379/0", CELERY_BROKER_URL=None, REDIS_SENTINEL_MASTER="relops-primary")
    assert plain.broker_url == "redis://h:6379/0"
    assert plain.broker_sentinel_options == {}
    assert broker_transport_options("amqp://guest@rabbit//") == {}
    assert broker_kombu_url("amqp://guest@rabbit//") == "amqp://guest@rabbit//"


def test_the_redis_client_of_a_sentinel_url_asks_the_sentinels_for_the_named_primary():
    client = redis_from_url(
        "sentinel://:pw@h1:26379;sentinel://h2:26380/4",
        master_name="relops-primary",
        sentinel_auth="sentinel-pw",
        socket_timeout=2,
    )
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool)
    assert pool.service_name == "relops-primary"
    assert pool.connection_kwargs["db"] == 4
    assert pool.connection_kwargs["password"] == "pw"
    sentinels = pool.sentinel_manager.sentinels
    assert [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"]) for s in sentinels
    ] == [
        ("h1", 26379),
        ("h2", 26380),
    ]
    assert all(s.connection_pool.connection_kwargs["password"] == "sentinel-pw" for s in sentinels)


def test_sentinel_passwords_are_known_secrets_and_masked_in_every_entry():
    url = "sentinel://:data-pass@h1:26379/0;sentinel://:data-pass@h2:26379/0"
    settings = Settings(REDIS_URL=url, CELERY_BROKER_URL=None, REDIS_SENTINEL_PASSWORD="sentinel-pass")
    assert {"data-pass", "sentinel-pass"} <= set(known_secrets(settings))
    assert url_credentials(url) == ["data-pass"]
    assert mask_password(url) == "sentinel://:***@h1:26379/0;sentinel://:***@h2:26379/0"


def test_services_check_a_sentinel_url_as_one_redis_endpoint():
    url = "sentinel://h1:26379;sentinel://h2:26380/0"
    found = endpoints(url, broker_kombu_url(url), "postgresql+psycopg://postgres@127.0.0.1:5432/relops")
    assert [(e.label, e.host, e.port) for e in found] == [("redis", "h1", 26379), ("postgres", "127.0.0.1", 5432)]
