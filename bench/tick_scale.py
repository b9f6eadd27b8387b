"""The evaluation tick's scale curve: 1,000, 10,000 and 50,000 flows, tick to last snapshot with one
worker of 2 processes, seconds and cost per flow, so a deployment can size its evaluate workers.
At 10,000 flows the naive one-task-per-flow pipeline runs too, as the baseline of the same run.

1,000 and 10,000 flows get 24 h of minute rows and 30 days of hour rows each (14.4 M and 7.2 M
rows at 10,000); 50,000 flows get only the rows a tick reads (bench.tick.seed, sparse): each
flow's evaluation reads the same rows, from smaller tables (seeding 108 M rows would take about
half an hour here).
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.stack import bench_stack, flows_config, median_s
from bench.tick import seed, time_later_tick, time_tick

SIZES = (1_000, 10_000, 50_000)
CHUNK_SIZE = 500
REPEATS = 3
NAIVE_AT = 10_000
TARGET_10K_S = 2.0


@dataclass
class SizeRuns:
    rows: int
    #: The minute's first tick: every snapshot inserted.
    samples: list[float]
    #: A later tick of the same minute: every snapshot replaced (False: the minute turned, inserted).
    later: list[tuple[float, bool]]
    naive: list[float]


def _one_size(flows: int, repeats: int, chunk_size: int) -> SizeRuns:
    with bench_stack(flows_config(flows, chunk_size)) as stack:
        rows = seed(stack.db, flows, sparse=flows > 10_000)
        worker = stack.worker(f"bench-scale-{flows}", "evaluate", concurrency=2, include="bench.naive_tasks")
        time_tick(stack, "relops.evaluate_tick", flows)  # warm-up: pools, plans, imports
        samples, later = [], []
        for _ in range(repeats):
            samples.append(time_tick(stack, "relops.evaluate_tick", flows))
            later.append(time_later_tick(stack, flows))
        naive = []
        if flows == NAIVE_AT:
            naive = [time_tick(stack, "bench.naive_tick", flows) for _ in range(max(1, repeats - 1))]
        worker.stop()
    return SizeRuns(rows, samples, later, naive)


def run(sizes: tuple[int, ...] = SIZES, repeats: int = REPEATS, chunk_size: int = CHUNK_SIZE) -> list[str]:
    lines = [f"tick scale curve, 1 worker x 2 processes, chunk_size={chunk_size}, median of {repeats} runs:"]
    for flows in sizes:
        size = _one_size(flows, repeats, chunk_size)
        samples, naive = size.samples, size.naive
        tick_s = median_s(samples)
        runs = ", ".join(f"{s:.3f}" for s in samples)
        lines.append(
            f"  {flows:>6,} flows ({size.rows:>10,} minute rows): {tick_s:6.3f} s to last snapshot, "
            f"{tick_s / flows * 1e6:6.1f} us per flow, {flows / tick_s:8,.0f} flows/s (runs {runs})"
        )
        later_s = median_s([s for s, _ in size.later])
        later_runs = ", ".join(f"{s:.3f}{'' if in_place else ' (new minute)'}" for s, in_place in size.later)
        lines.append(f"    a later tick of the minute, every snapshot replaced: {later_s:6.3f} s (runs {later_runs})")
        if naive:
            worst_s = max(tick_s, later_s)
            naive_s = median_s(naive)
            ratio = naive_s / tick_s
            lines.append(
                f"    naive baseline at {flows:,} flows: {naive_s:.3f} s; relops {ratio:.1f}x faster "
                f"(target >= 10x: {'met' if ratio >= 10 else 'MISSED'}); "
                f"target <= {TARGET_10K_S} s, either tick: {'met' if worst_s <= TARGET_10K_S else 'MISSED'}"
            )
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
