"""Dependency circuit breakers whose state every process shares through Redis.

from relops.breakers import guard, is_degraded, DegradedError

@guard("resend_email", fallback=None)
def send_digest(message): ...

with guard("postgres"):
    run_query()
"""

from relops.breakers.client import breaker_states, get_breaker, guard, is_degraded
from relops.errors import DegradedError

__all__ = ["DegradedError", "breaker_states", "get_breaker", "guard", "is_degraded"]
