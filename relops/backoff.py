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
