"""OutcomeRecorder with an injected sender and clock: no broker, no sleeps, flush() called directly."""

from __future__ import annotations

import json
import logging
import math
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from relops_client.recorder import OutcomeRecorder, format_minute

from relops.slo.outcome_batch import MAX_ITEMS_PER_BATCH

#: 2026-11-27T10:24:00Z
T0 = datetime(2026, 11, 27, 10, 24, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.broken = False

    def __call__(self) -> float:
        if self.broken:
            raise RuntimeError("clock broke")
        return self.now


class Sender:
    """Records every send attempt; fails while `failing` is set, like a broker that is down."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[dict[str, Any]]]] = []
        self.attempts: list[str] = []
        self.failing = False

    def __call__(self, batch_id: str, counts: list[dict[str, Any]]) -> None:
        self.attempts.append(batch_id)
        if self.failing:
            raise ConnectionError("broker down")
        # A deep copy via JSON proves the payload is what the json serializer would carry.
        self.sent.append((batch_id, json.loads(json.dumps(counts))))

    def items(self) -> list[dict[str, Any]]:
        return [item for _, counts in self.sent for item in counts]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender() -> Sender:
    return Sender()


@pytest.fixture
def make_recorder(clock: Clock, sender: Sender) -> Iterator[Any]:
    made: list[OutcomeRecorder] = []

    def make(**kwargs: Any) -> OutcomeRecorder:
        options: dict[str, Any] = {
            "broker_url": "redis://unused",
            "start": False,
            "sender": sender,
            "clock": clock,
        }
        options.update(kwargs)
        recorder = OutcomeRecorder(**options)
        made.append(recorder)
        return recorder

    yield make
    sender.failing = False
    for recorder in made:
        recorder.close(timeout_s=1.0)


def by_key(items: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
    result: dict[tuple[str, str], tuple[int, int]] = {}
    for item in items:
        key = (item["flow"], item["minute"])
        assert key not in result, f"duplicate item for {key}"
        result[key] = (item["good"], item["bad"])
    return result


def test_format_minute_is_utc_whole_minute_with_z() -> None:
    assert format_minute(int(T0) // 60) == "2026-11-27T10:24:00Z"
    assert format_minute(0) == "1970-01-01T00:00:00Z"


def test_counts_aggregate_per_flow_and_minute(make_recorder: Any, clock: Clock, sender: Sender) -> None:
    recorder = make_recorder()
    for _ in range(3):
        recorder.record("checkout")
    recorder.record("checkout", ok=False)
    recorder.record("login", ok=False)
    clock.now = T0 + 59.999  # still 10:24
    recorder.record("checkout")
    clock.now = T0 + 60.0  # 10:25
    recorder.record("checkout", ok=False)
    recorder.record("login")

    assert recorder.flush() is True

    assert len(sender.sent) == 1
    batch_id, counts = sender.sent[0]
    assert len(batch_id) == 32 and int(batch_id, 16) >= 0
    assert by_key(counts) == {
        ("checkout", "2026-11-27T10:24:00Z"): (4, 1),
        ("login", "2026-11-27T10:24:00Z"): (0, 1),
        ("checkout", "2026-11-27T10:25:00Z"): (0, 1),
        ("login", "2026-11-27T10:25:00Z"): (1, 0),
    }
    for item in counts:
        assert set(item) == {"flow", "minute", "good", "bad"}
        assert type(item["good"]) is int and type(item["bad"]) is int
    stats = recorder.stats
    assert (stats.recorded, stats.sent_batches, stats.pending_batches) == (8, 1, 0)


def test_flush_with_nothing_recorded_sends_nothing(make_recorder: Any, sender: Sender) -> None:
    recorder = make_recorder()
    assert recorder.flush() is True
    assert sender.attempts == []


def test_counts_are_reset_after_a_flush(make_recorder: Any, sender: Sender) -> None:
    recorder = make_recorder()
    recorder.record("checkout")
    recorder.flush()
    recorder.record("checkout")
    recorder.flush()
    assert [counts for _, counts in sender.sent] == [
        [{"flow": "checkout", "minute": "2026-11-27T10:24:00Z", "good": 1, "bad": 0}]
    ] * 2
    assert sender.sent[0][0] != sender.sent[1][0]


def test_batches_split_at_max_items_per_batch(make_recorder: Any, sender: Sender) -> None:
    recorder = make_recorder(max_items_per_batch=500)
    for index in range(1201):
        recorder.record(f"flow-{index:04d}")

    assert recorder.flush() is True

    assert [len(counts) for _, counts in sender.sent] == [500, 500, 201]
    assert len({batch_id for batch_id, _ in sender.sent}) == 3
    assert {item["flow"] for item in sender.items()} == {f"flow-{index:04d}" for index in range(1201)}
    assert all(item["good"] == 1 and item["bad"] == 0 for item in sender.items())


def test_max_items_per_batch_cannot_exceed_what_the_server_accepts() -> None:
    with pytest.raises(ValueError, match="max_items_per_batch"):
        OutcomeRecorder(broker_url="redis://unused", start=False, max_items_per_batch=MAX_ITEMS_PER_BATCH + 1)


def test_failed_batch_stays_pending_and_is_resent_with_the_same_batch_id(make_recorder: Any, sender: Sender) -> None:
    recorder = make_recorder()
    recorder.record("checkout")
    recorder.record("checkout", ok=False)
    sender.failing = True

    assert recorder.flush() is False
    assert recorder.flush() is False  # still down: the same batch is retried, not re-cut
    assert recorder.stats.pending_batches == 1
    assert recorder.stats.send_failures == 2
    first_id = sender.attempts[0]
    assert sender.attempts == [first_id, first_id]

    recorder.record("login")  # recorded during the outage: goes into a new, later batch
    sender.failing = False
    assert recorder.flush() is True

    assert sender.sent[0][0] == first_id
    assert sender.sent[0][1] == [{"flow": "checkout", "minute": "2026-11-27T10:24:00Z", "good": 1, "bad": 1}]
    assert sender.sent[1][0] != first_id
    assert sender.sent[1][1] == [{"flow": "login", "minute": "2026-11-27T10:24:00Z", "good": 1, "bad": 0}]
    stats = recorder.stats
    assert (stats.pending_batches, stats.sent_batches, stats.dropped_events) == (0, 2, 0)


def test_send_failure_and_recovery_are_logged(
    make_recorder: Any, sender: Sender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relops.client")
    recorder = make_recorder()
    recorder.record("checkout")
    sender.failing = True
    recorder.flush()

    failures = [r for r in caplog.records if "event=client.send_failed" in r.getMessage()]
    assert len(failures) == 1
    assert failures[0].levelno == logging.WARNING
    assert "pending_batches=1" in failures[0].getMessage()
    assert "broker down" in failures[0].getMessage()
    assert f"batch_id={sender.attempts[0]}" in failures[0].getMessage()

    sender.failing = False
    recorder.flush()
    assert any("event=client.send_recovered" in r.getMessage() for r in caplog.records)


def test_pending_overflow_drops_oldest_and_counts_lost_events(
    make_recorder: Any, sender: Sender, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="relops.client")
    recorder = make_recorder(max_pending_batches=2)
    sender.failing = True
    for events in (1, 2, 3):  # one batch per flush, holding 1, 2 and 3 events
        for _ in range(events):
            recorder.record(f"flow-{events}")
        recorder.flush()

    stats = recorder.stats
    assert stats.pending_batches == 2
    assert stats.dropped_events == 1
    overflow = [r for r in caplog.records if "event=client.pending_overflow" in r.getMessage()]
    assert len(overflow) == 1
    assert overflow[0].levelno == logging.ERROR
    assert "events_lost=1" in overflow[0].getMessage()
    assert f"oldest_dropped_batch_id={sender.attempts[0]}" in overflow[0].getMessage()

    sender.failing = False
    assert recorder.flush() is True
    assert [counts[0]["flow"] for _, counts in sender.sent] == ["flow-2", "flow-3"]
    assert sender.attempts[0] not in {batch_id for batch_id, _ in sender.sent}


def test_record_never_raises(make_recorder: Any, clock: Clock, sender: Sender) -> None:
    recorder = make_recorder(latency_thresholds_ms={"checkout": 100.0})
    recorder.record(None)  # type: ignore[arg-type]
    recorder.record(123)  # type: ignore[arg-type]
    recorder.record(b"checkout")  # type: ignore[arg-type]
    recorder.record("checkout", latency_ms="slow")  # type: ignore[arg-type]
    recorder.record("checkout", latency_ms=None)
    recorder.record("login", latency_ms="no threshold, so never compared")  # type: ignore[arg-type]
    clock.now = math.nan
    recorder.record("checkout")
    clock.now, clock.broken = T0, True
    recorder.record("checkout")

    stats = recorder.stats
    assert stats.invalid_records == 3
    assert stats.internal_errors == 3
    assert stats.recorded == 2
    clock.broken = False
    assert recorder.flush() is True
    assert by_key(sender.items()) == {
        ("checkout", "2026-11-27T10:24:00Z"): (1, 0),
        ("login", "2026-11-27T10:24:00Z"): (1, 0),
    }


def test_invalid_flow_is_logged_at_most_once_a_minute(make_recorder: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="relops.client")
    recorder = make_recorder()
    for _ in range(100):
        recorder.record(None)  # type: ignore[arg-type]
    lines = [r for r in caplog.records if "event=client.invalid_record" in r.getMessage()]
    assert len(lines) == 1
    assert recorder.stats.invalid_records == 100


def test_latency_above_threshold_counts_bad(make_recorder: Any, sender: Sender) -> None:
    recorder = make_recorder(latency_thresholds_ms={"checkout": 800, "login": 50.5})
    recorder.record("checkout", latency_ms=800.0)  # at the threshold: good
    recorder.record("checkout", latency_ms=800.1)  # above: bad
    recorder.record("checkout", latency_ms=None)  # unknown latency: ok decides
    recorder.record("checkout", ok=False, latency_ms=1.0)  # fast failure is still bad
    recorder.record("login", latency_ms=51)
    recorder.record("search", latency_ms=10_000.0)  # no threshold configured: good

    recorder.flush()

    assert by_key(sender.items()) == {
        ("checkout", "2026-11-27T10:24:00Z"): (2, 2),
        ("login", "2026-11-27T10:24:00Z"): (0, 1),
        ("search", "2026-11-27T10:24:00Z"): (1, 0),
    }


def test_close_sends_what_is_left(make_recorder: Any, sender: Sender) -> None:
    recorder = make_recorder()
    recorder.record("checkout")
    assert recorder.close(timeout_s=1.0) is True
    assert len(sender.sent) == 1


def test_background_thread_flushes_every_interval(clock: Clock) -> None:
    delivered = threading.Event()
    received: list[list[dict[str, Any]]] = []

    def sender(batch_id: str, counts: list[dict[str, Any]]) -> None:
        received.append(counts)
        delivered.set()

    recorder = OutcomeRecorder(
        broker_url="redis://unused", flush_interval_s=0.01, sender=sender, clock=clock, start=True
    )
    try:
        recorder.record("checkout")
        assert delivered.wait(timeout=10.0), "flush thread never sent the batch"
        assert received == [[{"flow": "checkout", "minute": "2026-11-27T10:24:00Z", "good": 1, "bad": 0}]]
    finally:
        assert recorder.close(timeout_s=5.0) is True


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_does_not_resend_the_parents_counts(make_recorder: Any) -> None:
    read_fd, write_fd = os.pipe()
    parent_sent: list[list[dict[str, Any]]] = []
    child_pipe: dict[str, int | None] = {"fd": None}

    def sender(batch_id: str, counts: list[dict[str, Any]]) -> None:
        fd = child_pipe["fd"]
        if fd is None:
            parent_sent.append(counts)
        else:
            os.write(fd, json.dumps(counts).encode() + b"\n")

    recorder = make_recorder(sender=sender)
    recorder.record("parent-only")
    pid = os.fork()
    if pid == 0:  # child: report only its own outcome, then leave without running atexit hooks
        code = 1
        try:
            child_pipe["fd"] = write_fd
            recorder.record("child-only")
            code = 0 if recorder.flush(timeout_s=5.0) else 2
        finally:
            os._exit(code)
    os.close(write_fd)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read_fd, "rb") as pipe:
        lines = pipe.read().splitlines()
    assert os.waitstatus_to_exitcode(status) == 0
    assert [json.loads(line) for line in lines] == [
        [{"flow": "child-only", "minute": "2026-11-27T10:24:00Z", "good": 1, "bad": 0}]
    ]
    assert recorder.flush() is True
    assert parent_sent == [[{"flow": "parent-only", "minute": "2026-11-27T10:24:00Z", "good": 1, "bad": 0}]]


def test_no_count_is_lost_while_flushing_concurrently(make_recorder: Any, sender: Sender) -> None:
    recorder = make_recorder()
    per_thread, threads = 20_000, 4

    def hammer() -> None:
        for index in range(per_thread):
            recorder.record("checkout", ok=index % 2 == 0)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        recorder.flush()
    for worker in workers:
        worker.join()
    recorder.flush()

    good = sum(item["good"] for item in sender.items())
    bad = sum(item["bad"] for item in sender.items())
    assert (good, bad) == (per_thread * threads // 2, per_thread * threads // 2)
