"""Circuit breakers in relops' own processes: the client's breakers (relops_client.breakers, one
implementation for services and relops), built from relops' validated config file and Redis."""

from __future__ import annotations

from relops_client.breakers import (
    SCRIPT,
    BreakerRegistry,
    CircuitBreaker,
    Ticket,
    TransitionListener,
    add_transition_listener,
    breaker_states,
    get_breaker,
    guard,
    is_degraded,
    process_breakers,
    reset_breakers,
    use_registry,
)

from relops.runtime import get_config, redis


def config_breakers() -> BreakerRegistry:
    """Every dependency of relops' config file (its defaults, receivers and [breakers.NAME])."""
    return BreakerRegistry(get_config().breaker_settings(), redis)


use_registry(config_breakers)

__all__ = [
    "SCRIPT",
    "BreakerRegistry",
    "CircuitBreaker",
    "Ticket",
    "TransitionListener",
    "add_transition_listener",
    "breaker_states",
    "config_breakers",
    "get_breaker",
    "guard",
    "is_degraded",
    "process_breakers",
    "reset_breakers",
]
