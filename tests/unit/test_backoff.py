"""Retry delays and how long a message's retries can last (relops.backoff)."""

from __future__ import annotations

import random

from relops.backoff import backoff_s, longest_retry_schedule_s


def test_each_delay_is_between_half_and_all_of_its_doubling_ceiling_and_never_past_the_cap() -> None:
    rng = random.Random(7)
    for attempt, ceiling in ((1, 2.0), (2, 4.0), (3, 8.0), (4, 10.0), (9, 10.0)):
        delay = backoff_s(attempt, 2.0, 10.0, rng)
        assert ceiling / 2 <= delay <= ceiling


def test_the_longest_schedule_counts_every_wait_at_its_longest_and_the_outage_wait() -> None:
    # Six attempts: five waits between them, each at most the longer of the cap and Retry-After's cap.
    defaults = longest_retry_schedule_s(max_attempts=6, retry_max_s=300, max_retry_after_s=300, max_outage_wait_s=21600)
    assert defaults == 5 * 300 + 21600
    assert longest_retry_schedule_s(max_attempts=3, retry_max_s=1, max_retry_after_s=300, max_outage_wait_s=10) == 610
    assert longest_retry_schedule_s(max_attempts=1, retry_max_s=600, max_retry_after_s=300, max_outage_wait_s=5) == 5
