"""One value a process recomputes at most every so often (the dashboard's budget trends)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Cached(Generic[T]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._kept: tuple[float, T] | None = None

    def get(self, ttl_s: float, compute: Callable[[], T]) -> T:
        """The kept value while it is younger than ``ttl_s`` (0: never), else ``compute()``'s, kept
        from when it was asked for."""
        kept = self._kept
        if kept is None or self._clock() - kept[0] >= ttl_s:
            kept = self._kept = (self._clock(), compute())
        return kept[1]
