"""What differs between Redis and RabbitMQ, chosen by the broker URL: schemes, queue declarations,
countdowns, and the settings check that names the variable."""

from __future__ import annotations

import socket
import time

import pytest
from pydantic import ValidationError
from relops_client.queues import broker_kind, server_queue_type, task_queue

from relops.broker import MAX_COUNTDOWN_S, Broker, prepare_broker, publish_countdown, shown_url
from relops.errors import BrokerError, SettingsError
from relops.localdev.local_servers import endpoints
from relops.settings import Settings, get_settings


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("redis://127.0.0.1:6379/0", "redis"),
        ("rediss://:pw@cache.example.com:6380/1", "redis"),
        ("redis+socket:///run/redis.sock", "redis"),
        ("amqp://relops:pw@127.0.0.1:5672/relops", "amqp"),
        ("AMQPS://relops:pw@mq.example.com/", "amqp"),
        ("pyamqp://guest@localhost//", "amqp"),
        ("amqp://a//;amqp://b//", "amqp"),
    ],
)
def test_the_scheme_says_which_broker(url, kind):
    assert broker_kind(url) == kind


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("sqs://key:secret@", "scheme sqs:// is not a broker relops runs on"),
        ("127.0.0.1:6379", "is not a broker relops runs on"),
        ("unix:///run/redis.sock", "use redis+socket:///"),
        ("amqp://a//;redis://b", "one kind of broker"),
        (" ; ", "is empty"),
    ],
)
def test_a_broker_relops_does_not_run_on_is_refused_with_the_way_out(url, says):
    with pytest.raises(ValueError, match=says.replace("+", r"\+")):
        broker_kind(url)


def test_the_settings_name_the_variable_and_never_quote_the_password(monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", "sqs://AKIA:s3cretKey@queue")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError) as caught:
            get_settings()
    finally:
        get_settings.cache_clear()
    assert str(caught.value).startswith("invalid environment settings: CELERY_BROKER_URL: scheme sqs://")
    assert "s3cretKey" not in str(caught.value)
    monkeypatch.delenv("CELERY_BROKER_URL")  # make exports one; the REDIS_URL fallback needs it unset
    with pytest.raises(ValidationError, match="REDIS_URL as the broker"):
        Settings(REDIS_URL="unix:///run/redis.sock")
    # A unix-socket REDIS_URL is fine for the shared state when the broker is given apart.
    settings = Settings(REDIS_URL="unix:///run/redis.sock", CELERY_BROKER_URL="amqp://relops:pw@mq/relops")
    assert settings.broker_url == "amqp://relops:pw@mq/relops"


@pytest.mark.parametrize(
    ("properties", "queue_type"),
    [
        ({"product": b"RabbitMQ", "version": b"3.10.8"}, "quorum"),
        ({"product": "RabbitMQ", "version": "3.8.0"}, "quorum"),
        ({"product": "RabbitMQ", "version": "4.1.0+rc.1"}, "quorum"),
        ({"product": "RabbitMQ", "version": "3.7.28"}, "classic"),
        ({"product": "RabbitMQ", "version": "garbled"}, "classic"),
        ({"product": "LavinMQ", "version": "2.0.0"}, "classic"),
        ({}, "classic"),
    ],
)
def test_quorum_queues_where_the_server_has_them(properties, queue_type):
    assert server_queue_type(properties) == queue_type


def test_a_relops_queue_is_declared_one_way_per_broker():
    on_redis = task_queue("ingest", None)
    assert (on_redis.exchange.name, on_redis.exchange.type, on_redis.routing_key) == ("ingest", "direct", "ingest")
    assert on_redis.durable and not on_redis.queue_arguments
    quorum = task_queue("alerts.webhook", "quorum")
    assert (quorum.exchange.name, quorum.exchange.type, quorum.routing_key) == (
        "alerts.webhook",
        "topic",
        "alerts.webhook",
    )
    assert quorum.exchange.durable
    assert quorum.queue_arguments == {"x-queue-type": "quorum"} and quorum.durable
    # A classic queue carries no x-queue-type: RabbitMQ counts an explicit "classic" as different
    # from the queue every plain producer declares.
    assert task_queue("ingest", "classic").queue_arguments is None


def test_celery_settings_differ_by_broker_only_where_they_must():
    names = ["ingest", "alerts"]
    redis = Broker("redis://127.0.0.1:6379/0", "redis").celery_settings(names)
    assert redis["broker_transport_options"]["visibility_timeout"] == 900
    assert "task_create_missing_queue_type" not in redis
    assert [q.exchange.type for q in redis["task_queues"]] == ["direct", "direct"]
    amqp = Broker("amqp://u:p@mq/v", "amqp", "quorum").celery_settings(names)
    assert amqp["broker_transport_options"] == {"confirm_publish": True}
    assert amqp["task_create_missing_queue_type"] == "quorum"
    assert amqp["task_create_missing_queue_exchange_type"] == "topic"
    assert amqp["broker_native_delayed_delivery_queue_type"] == "quorum"
    assert [q.queue_arguments for q in amqp["task_queues"]] == [{"x-queue-type": "quorum"}] * 2


@pytest.mark.parametrize(
    ("seconds", "redis", "amqp"),
    [
        (0, None, None),
        (-3, None, None),
        (0.2, 0.2, 1.0),
        (1.0, 1.0, 1.0),
        (4.01, 4.01, 5.0),
        (10_000, float(MAX_COUNTDOWN_S), float(MAX_COUNTDOWN_S)),
    ],
)
def test_countdowns_are_clamped_and_whole_seconds_on_rabbitmq(seconds, redis, amqp):
    assert publish_countdown(seconds, "redis") == redis
    assert publish_countdown(seconds, "amqp") == amqp


def test_a_redis_broker_needs_nothing_at_start():
    assert prepare_broker("redis://127.0.0.1:1/0", ["ingest"]) == Broker("redis://127.0.0.1:1/0", "redis")


def test_an_unreachable_rabbitmq_refuses_the_start_by_its_deadline_without_the_password():
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"amqp://relops:n0tShown-pw@127.0.0.1:{port}/relops"
    started = time.monotonic()
    with pytest.raises(BrokerError) as caught:
        prepare_broker(url, ["ingest"], deadline_s=1.5)
    assert time.monotonic() - started < 15
    message = str(caught.value)
    assert f"cannot reach RabbitMQ at amqp://relops:***@127.0.0.1:{port}/relops" in message
    assert "n0tShown-pw" not in message


def test_a_failover_list_is_shown_with_every_password_masked():
    assert shown_url("amqp://a:pw1@h1//;amqp://b:pw2@h2//") == "amqp://a:***@h1//;amqp://b:***@h2//"


def test_relops_services_checks_rabbitmq_when_it_is_the_broker_or_named():
    redis, pg = "redis://127.0.0.1:6379/0", "postgresql+psycopg://postgres@127.0.0.1:5432/relops"
    on_redis = endpoints(redis, redis, pg)
    assert [(e.kind, e.label) for e in on_redis] == [("redis", "redis"), ("postgres", "postgres")]
    on_rabbitmq = endpoints(redis, "amqp://relops:pw@mq.internal/relops", pg, ["amqps://guest:guest@127.0.0.1"])
    assert [(e.kind, e.label, e.host, e.port) for e in on_rabbitmq] == [
        ("redis", "redis", "127.0.0.1", 6379),
        ("rabbitmq", "broker", "mq.internal", 5672),
        ("postgres", "postgres", "127.0.0.1", 5432),
        ("rabbitmq", "rabbitmq", "127.0.0.1", 5671),
    ]
    assert on_rabbitmq[1].shown_url == "amqp://relops:***@mq.internal/relops"


def test_no_queue_name_may_end_with_another_on_rabbitmq():
    """A due countdown message for team.alerts would match alerts' delayed-delivery binding too."""
    from relops.broker import _refuse_suffix_names

    _refuse_suffix_names(["alerts", "alerts.webhook", "alerts.email", "team-a.hooks"])
    with pytest.raises(BrokerError, match=r"queue 'payments\.alerts' ends with '\.alerts'"):
        _refuse_suffix_names(["alerts", "payments.alerts"])
