"""Cost of OutcomeRecorder.record() on a service's hot path, next to a bare dict increment.

The ratio matters more than the absolute number: it shows what the lock, the clock call and the
never-raise guard add over the cheapest possible in-process counter, on whatever machine runs it.
"""

from __future__ import annotations

import time

from relops_client.recorder import OutcomeRecorder

CALLS = 1_000_000
FLOWS = 100


def _per_call_us(elapsed_ns: int, calls: int) -> float:
    return elapsed_ns / calls / 1000.0


def bench_record(calls: int = CALLS, flows: int = FLOWS) -> float:
    """µs per record() call; start=False and a no-op sender, so nothing leaves the process."""
    recorder = OutcomeRecorder(broker_url="redis://unused", start=False, sender=lambda _id, _counts: None)
    names = [f"flow-{index:03d}" for index in range(flows)]
    sequence = [names[index % flows] for index in range(calls)]
    record = recorder.record
    try:
        started = time.perf_counter_ns()
        for flow in sequence:
            record(flow)
        elapsed = time.perf_counter_ns() - started
    finally:
        recorder.close(timeout_s=1.0)
    assert recorder.stats.recorded == calls
    return _per_call_us(elapsed, calls)


def bench_dict_baseline(calls: int = CALLS, flows: int = FLOWS) -> float:
    """µs per increment of a plain dict keyed (flow, minute), the same key shape record() uses."""
    names = [f"flow-{index:03d}" for index in range(flows)]
    sequence = [names[index % flows] for index in range(calls)]
    counts: dict[tuple[str, int], int] = {}
    minute = int(time.time()) // 60
    started = time.perf_counter_ns()
    for flow in sequence:
        key = (flow, minute)
        counts[key] = counts.get(key, 0) + 1
    elapsed = time.perf_counter_ns() - started
    assert sum(counts.values()) == calls
    return _per_call_us(elapsed, calls)


def run() -> list[str]:
    """Both measurements in one process, so the ratio compares like with like."""
    baseline = bench_dict_baseline()
    per_record = bench_record()
    return [
        f"client record(): {per_record:.2f} µs/event "
        f"(baseline dict increment {baseline:.2f} µs, ratio {per_record / baseline:.1f}x) "
        f"over {CALLS:,} calls across {FLOWS} flows"
    ]


if __name__ == "__main__":
    print("\n".join(run()))
