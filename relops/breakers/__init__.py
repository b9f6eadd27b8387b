"""Dependency circuit breakers: the alert events their transitions make (``state_alerts``).

The breakers themselves are the client's (``relops_client.breakers``: one implementation for services
and relops). This package still re-exports ``guard``, ``is_degraded``, ``DegradedError``,
``breaker_states`` and ``get_breaker`` because the README once told services to import them from
here; that import is deprecated: new code imports them from ``relops_client``.
"""

from relops_client.breakers import breaker_states, get_breaker, guard, is_degraded
from relops_client.errors import DegradedError

__all__ = ["DegradedError", "breaker_states", "get_breaker", "guard", "is_degraded"]
