"""The one error the client raises into a service's code."""

from __future__ import annotations


class DegradedError(Exception):
    """A dependency's circuit breaker is open: the call was not made."""

    def __init__(self, dependency: str, retry_in_s: float | None = None) -> None:
        when = f"; next trial in {retry_in_s:.1f} s" if retry_in_s else ""
        super().__init__(f"{dependency} is degraded (circuit open){when}")
        self.dependency = dependency
        self.retry_in_s = retry_in_s

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (DegradedError, (self.dependency, self.retry_in_s))
