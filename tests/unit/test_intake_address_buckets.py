"""The intake's per-address refusal buckets and its access-log filter: pure logic, clock as argument."""

from __future__ import annotations

import logging

from relops.intake.address_buckets import AddressBuckets
from relops.server_log import SkipRefusals


def test_an_address_past_its_burst_waits_for_its_rate() -> None:
    buckets = AddressBuckets(rate_per_s=2.0, burst=3)
    assert [buckets.take("10.0.0.1", 0.0) for _ in range(3)] == [None, None, None]
    assert buckets.take("10.0.0.1", 0.0) == 1
    assert buckets.take("10.0.0.2", 0.0) is None, "another address has its own bucket"
    assert buckets.take("10.0.0.1", 0.5) is None, "half a second at 2/s is a token"
    assert buckets.take("10.0.0.1", 0.5) == 1
    assert [buckets.take("10.0.0.1", 100.0) for _ in range(4)] == [None, None, None, 1], "refilled to the burst"


def test_a_slow_rate_says_how_long_to_wait() -> None:
    buckets = AddressBuckets(rate_per_s=0.1, burst=1)
    assert buckets.take("a", 0.0) is None
    assert buckets.take("a", 0.0) == 10


def test_the_table_of_addresses_is_bounded() -> None:
    buckets = AddressBuckets(rate_per_s=1.0, burst=1, max_addresses=100)
    for i in range(10_000):
        buckets.take(f"2001:db8::{i:x}", 0.0)
    assert len(buckets) <= 100
    assert buckets.take("2001:db8::1", 0.0) is None, "a forgotten address starts again with a full bucket"


def access_record(status: int) -> logging.LogRecord:
    args = ("127.0.0.1:5000", "GET", "/api/v1/cron/x", "1.1", status)
    return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)


def test_the_intake_access_log_leaves_out_what_it_counts_itself() -> None:
    skip = SkipRefusals()
    kept = {status: skip.filter(access_record(status)) for status in (202, 200, 400, 401, 404, 413, 429, 500, 503)}
    assert kept == {
        202: True,
        200: True,
        400: False,
        401: False,
        404: False,
        413: False,
        429: False,
        500: True,
        503: False,
    }
