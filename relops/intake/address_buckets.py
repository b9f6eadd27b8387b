"""A token bucket per client address for the intake's refusals. Pure: the clock is an argument.

Only refusals take tokens: an accepted request never does, so the services behind one proxy
address keep reporting while one of them is refused again and again. The table is bounded: past
``max_addresses`` the address seen longest ago is forgotten (it comes back with a full bucket).
"""

from __future__ import annotations

import math

#: Addresses tracked at most (a few hundred kB).
MAX_ADDRESSES = 10_000


class AddressBuckets:
    def __init__(self, rate_per_s: float, burst: int, *, max_addresses: int = MAX_ADDRESSES) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_addresses = max_addresses
        #: address -> (tokens, when they were counted); in order of last use, oldest first.
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, address: str, now: float) -> int | None:
        """One token of ``address``'s bucket: None when it had one, else the whole seconds until it
        has one again (what its refusal tells it to wait)."""
        tokens, counted_at = self._buckets.pop(address, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + max(0.0, now - counted_at) * self.rate_per_s)
        if len(self._buckets) >= self.max_addresses:
            del self._buckets[next(iter(self._buckets))]
        if tokens >= 1.0:
            self._buckets[address] = (tokens - 1.0, now)
            return None
        self._buckets[address] = (tokens, now)
        return max(1, math.ceil((1.0 - tokens) / self.rate_per_s))

    def __len__(self) -> int:
        return len(self._buckets)
