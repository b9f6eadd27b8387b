"""OutcomeRecorder against the real Redis broker: the wire format is the contract, and a dead broker
must cost a bounded wait, keep the batch (same batch_id) and deliver it once the broker is back."""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import kombu
import pytest
from relops_client.recorder import OutcomeRecorder, format_minute

from relops.names import QUEUE_INGEST, TASK_RECORD_FLOW_OUTCOMES
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

#: Only a guard against hangs; a dead broker should fail in about send_timeout_s.
HANG_GUARD_S = 15.0


def drain_ingest(bare_redis_url: str, wait_s: float = 0.0) -> list[tuple[dict[str, Any], Any]]:
    """Every message on the ingest queue as (headers, decoded body), acked; waits wait_s for the first."""
    messages: list[tuple[dict[str, Any], Any]] = []
    with kombu.Connection(bare_redis_url) as connection:
        queue = connection.SimpleQueue(QUEUE_INGEST)
        try:
            timeout = wait_s
            while True:
                try:
                    message = queue.get(block=timeout > 0, timeout=timeout or None)
                except queue.Empty:
                    return messages
                assert message.content_type == "application/json"
                messages.append((dict(message.headers), message.decode()))
                message.ack()
                timeout = 0.0
        finally:
            queue.close()


def sent_batches(messages: list[tuple[dict[str, Any], Any]]) -> dict[str, list[dict[str, Any]]]:
    batches: dict[str, list[dict[str, Any]]] = {}
    for headers, (args, kwargs, _embed) in messages:
        assert headers["task"] == TASK_RECORD_FLOW_OUTCOMES
        assert args == []
        assert kwargs["batch_id"] not in batches, "a batch was delivered twice"
        batches[kwargs["batch_id"]] = kwargs["counts"]
    return batches


@pytest.fixture
def ingest(bare_redis_url: str) -> Iterator[str]:
    """The session Redis DB with an empty ingest queue before and after the test."""
    drain_ingest(bare_redis_url)
    yield bare_redis_url
    drain_ingest(bare_redis_url)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def proxy(bare_redis_url: str) -> Iterator[TcpProxy]:
    upstream = urlsplit(bare_redis_url)
    tcp_proxy = TcpProxy((upstream.hostname or "127.0.0.1", upstream.port or 6379), free_port())
    yield tcp_proxy
    tcp_proxy.stop()


def proxied_url(bare_redis_url: str, proxy: TcpProxy) -> str:
    return f"redis://127.0.0.1:{proxy.port}{urlsplit(bare_redis_url).path}"


def failed_batch_ids(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        match.group(1)
        for record in caplog.records
        if (match := re.search(r"event=client\.send_failed .*batch_id=([0-9a-f]{32})", record.getMessage()))
    ]


def test_message_on_ingest_queue_matches_the_contract(ingest: str) -> None:
    now = time.time()
    recorder = OutcomeRecorder(broker_url=ingest, start=False, latency_thresholds_ms={"checkout": 500})
    try:
        recorder.record("checkout")
        recorder.record("checkout", latency_ms=900.0)
        recorder.record("login", ok=False)
        assert recorder.flush(timeout_s=10.0) is True
    finally:
        recorder.close(timeout_s=5.0)

    messages = drain_ingest(ingest, wait_s=10.0)
    assert len(messages) == 1
    headers, (args, kwargs, _embed) = messages[0]
    assert headers["task"] == TASK_RECORD_FLOW_OUTCOMES
    assert args == []
    assert set(kwargs) == {"batch_id", "counts"}
    assert re.fullmatch(r"[0-9a-f]{32}", kwargs["batch_id"])
    minutes = {format_minute(int(now) // 60), format_minute(int(time.time()) // 60)}
    assert len(kwargs["counts"]) == 2
    for item in kwargs["counts"]:
        assert set(item) == {"flow", "minute", "good", "bad"}
        assert item["minute"] in minutes
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z", item["minute"])
    totals = {item["flow"]: (item["good"], item["bad"]) for item in kwargs["counts"]}
    assert totals == {"checkout": (1, 1), "login": (0, 1)}
    assert recorder.stats.sent_batches == 1


def test_closed_port_fails_fast_and_keeps_the_batch(ingest: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="relops.client")
    dead = OutcomeRecorder(broker_url="redis://127.0.0.1:1/0", start=False, send_timeout_s=1.0)
    dead.record("checkout")
    dead.record("checkout", ok=False)

    started = time.monotonic()
    assert dead.flush(timeout_s=5.0) is False
    assert time.monotonic() - started < HANG_GUARD_S
    dead.record("checkout")  # still usable, still never raises
    stats = dead.stats
    assert (stats.pending_batches, stats.send_failures, stats.sent_batches) == (1, 1, 0)
    assert stats.internal_errors == 0
    (failed_id,) = failed_batch_ids(caplog)

    # The URL cannot change, so hand the pending batch to a sender that publishes through a working
    # recorder's Celery path: it must arrive under the batch_id the failed attempt used.
    live = OutcomeRecorder(broker_url=ingest, start=False)
    dead._sender = live._celery_send
    try:
        assert dead.flush(timeout_s=10.0) is True
    finally:
        dead.close(timeout_s=1.0)
        live.close(timeout_s=1.0)

    batches = sent_batches(drain_ingest(ingest, wait_s=10.0))
    assert next(iter(batches)) == failed_id
    assert [item["flow"] for item in batches[failed_id]] == ["checkout"]
    assert (batches[failed_id][0]["good"], batches[failed_id][0]["bad"]) == (1, 1)
    assert sum(item["good"] + item["bad"] for counts in batches.values() for item in counts) == 3


def test_black_holed_broker_fails_within_the_send_timeout(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="relops.client")
    with socket.socket() as silent:  # accepts TCP connections (kernel backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        recorder = OutcomeRecorder(broker_url=f"redis://127.0.0.1:{port}/0", start=False, send_timeout_s=1.0)
        recorder.record("checkout")
        started = time.monotonic()
        assert recorder.flush(timeout_s=5.0) is False
        assert time.monotonic() - started < HANG_GUARD_S
        assert recorder.stats.pending_batches == 1
        assert len(failed_batch_ids(caplog)) == 1
        recorder.close(timeout_s=0.1)


def test_outage_then_recovery_resends_the_same_batch_id_once(
    ingest: str, proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """Through the real Celery path: down before the first send, up, cut mid-life, back again."""
    caplog.set_level(logging.INFO, logger="relops.client")
    recorder = OutcomeRecorder(broker_url=proxied_url(ingest, proxy), start=False, send_timeout_s=1.0)
    try:
        recorder.record("before-first-connect")
        assert recorder.flush(timeout_s=5.0) is False
        proxy.start()
        assert recorder.flush(timeout_s=10.0) is True

        proxy.stop()  # pooled broker connection is now dead
        recorder.record("during-outage", ok=False)
        started = time.monotonic()
        assert recorder.flush(timeout_s=5.0) is False
        assert time.monotonic() - started < HANG_GUARD_S
        assert recorder.stats.pending_batches == 1

        proxy.start()
        deadline = time.monotonic() + HANG_GUARD_S
        while not recorder.flush(timeout_s=5.0):  # the first attempt may hit the stale pooled socket
            assert time.monotonic() < deadline, "recorder never recovered after the broker came back"
        stats = recorder.stats
        assert (stats.pending_batches, stats.sent_batches, stats.dropped_events) == (0, 2, 0)
    finally:
        recorder.close(timeout_s=1.0)

    failed = failed_batch_ids(caplog)
    batches = sent_batches(drain_ingest(ingest, wait_s=10.0))
    assert len(batches) == 2
    first_id, second_id = batches
    assert failed[0] == first_id
    assert set(failed[1:]) == {second_id}
    assert [(i["flow"], i["good"], i["bad"]) for i in batches[first_id]] == [("before-first-connect", 1, 0)]
    assert [(i["flow"], i["good"], i["bad"]) for i in batches[second_id]] == [("during-outage", 0, 1)]
    assert any("event=client.send_recovered" in record.getMessage() for record in caplog.records)
