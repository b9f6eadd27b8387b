"""Retry delays. Pure: the random source is passed in."""

from __future__ import annotations

import random


def backoff_s(attempt: int, base_s: float, max_s: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter between half and all of base * 2^(attempt-1), capped.

    Jitter spreads the retries of many workers that failed at the same moment (one receiver down)
    so they do not all knock again together.
    """
    ceiling = min(max_s, base_s * 2 ** max(0, attempt - 1))
    return (rng or random).uniform(ceiling / 2, ceiling)


def longest_retry_schedule_s(
    *, max_attempts: int, retry_max_s: float, max_retry_after_s: float, max_outage_wait_s: float
) -> float:
    """How long after its first attempt a message can still be tried again, at most: every wait
    between two attempts at its longest (the backoff's cap, or a receiver's Retry-After at relops'
    cap, whichever is longer), plus the longest it may wait out a known outage (spending no attempt)."""
    longest_wait_s = max(retry_max_s, max_retry_after_s)
    return (max_attempts - 1) * longest_wait_s + max_outage_wait_s
