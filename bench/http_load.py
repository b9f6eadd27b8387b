"""A small HTTP/1.1 load generator on asyncio sockets: keep-alive connections, one request in flight
per connection, every response's status and latency recorded.

Written here rather than taken from wrk or hey because neither is on a stock machine and the
benchmark must run with one command; it is light enough (uvloop, no HTTP library) that one process
drives a single-process server past its limit on this machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

#: Builds the raw request for the i-th request of a run.
RequestFactory = Callable[[int], bytes]


@dataclass
class LoadResult:
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0

    @property
    def count(self) -> int:
        return len(self.latencies_ms)

    @property
    def per_s(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def request_bytes(method: str, target: str, *, headers: Sequence[tuple[str, str]] = (), body: bytes = b"") -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers)]
    if body or method in {"POST", "PUT"}:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    if length:
        await reader.readexactly(length)
    return status


async def _connection(
    port: int, make: RequestFactory, next_index: Callable[[], int | None], result: LoadResult, pace: _Pace | None
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (index := next_index()) is not None:
            if pace is not None:
                await pace.wait_turn(index)
            started = time.perf_counter()
            writer.write(make(index))
            try:
                status = await _read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                result.errors += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            result.latencies_ms.append((time.perf_counter() - started) * 1000)
            result.statuses[status] += 1
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


class _Pace:
    """Open-loop pacing: request i may start at start + i / rate, whoever sends it, so a slow
    response shows up as latency instead of silently lowering the offered rate."""

    def __init__(self, rate_per_s: float) -> None:
        self.rate = rate_per_s
        self.start = time.perf_counter()

    async def wait_turn(self, index: int) -> None:
        delay = self.start + index / self.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)


async def _run(port: int, make: RequestFactory, total: int, connections: int, rate: float | None) -> LoadResult:
    result = LoadResult(seconds=0.0)
    counter = iter(range(total))
    pace = _Pace(rate) if rate else None

    def next_index() -> int | None:
        return next(counter, None)

    started = time.perf_counter()
    await asyncio.gather(*(_connection(port, make, next_index, result, pace) for _ in range(connections)))
    result.seconds = time.perf_counter() - started
    return result


def run_load(
    port: int, make: RequestFactory, *, total: int, connections: int = 32, rate_per_s: float | None = None
) -> LoadResult:
    """Send ``total`` requests over ``connections`` keep-alive connections: as fast as the server
    answers, or paced at ``rate_per_s`` (open loop)."""
    try:
        import uvloop

        runner: Callable[..., LoadResult] = uvloop.run
    except ImportError:  # the stdlib loop is slower but still measures both servers the same way
        runner = asyncio.run
    return runner(_run(port, make, total, connections, rate_per_s))
