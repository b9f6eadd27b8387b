"""The messages waiting in each queue, as a scrape of /metrics reads them (relops.broker
read_waiting_messages), on both brokers relops runs on: exact counts, nothing declared by the
reader, and a broker that does not answer is an error without its credentials."""

from __future__ import annotations

import uuid

import pytest
from kombu import Connection, Exchange, Producer, Queue

from relops.broker import read_waiting_messages
from relops.errors import BrokerError
from tests.integration.conftest import BrokerUnderTest
from tests.web_support import free_port

pytestmark = pytest.mark.integration


def test_waiting_messages_are_counted_exactly_and_nothing_is_declared(broker: BrokerUnderTest) -> None:
    waiting, missing = f"depth-{uuid.uuid4().hex[:8]}", f"absent-{uuid.uuid4().hex[:8]}"
    queue = Queue(waiting, Exchange(waiting, type="direct"), routing_key=waiting, durable=False, auto_delete=False)
    with Connection(broker.url) as connection:
        with connection.channel() as channel:
            producer = Producer(channel)
            for number in range(3):
                producer.publish({"n": number}, exchange=queue.exchange, routing_key=waiting, declare=[queue])
        try:
            assert read_waiting_messages(broker.url, {}, [waiting, missing], timeout_s=5) == {waiting: 3, missing: 0}
            # The reader looked the missing queue up and created nothing: it is still not there.
            with connection.channel() as channel, pytest.raises(connection.channel_errors):
                channel.queue_declare(queue=missing, passive=True)
        finally:
            with connection.channel() as channel:
                queue.bind(channel).delete()


def test_a_broker_that_does_not_answer_is_an_error_without_its_password() -> None:
    secret = uuid.uuid4().hex
    for url in (f"redis://:{secret}@127.0.0.1:{free_port()}/0", f"amqp://relops:{secret}@127.0.0.1:{free_port()}//"):
        with pytest.raises(BrokerError) as refused:
            read_waiting_messages(url, {}, ["cron"], timeout_s=1)
        assert "cannot read the queues" in str(refused.value)
        assert secret not in str(refused.value)
