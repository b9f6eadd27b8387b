"""The circuit-breaker state machine, pure: defined in relops_client.breaker_machine (services
guard their calls with the client) and re-exported here for relops' own code and tests."""

from relops_client.breaker_machine import Breaker, BreakerRules, Decision, Outcome, State, acquire, report

__all__ = ["Breaker", "BreakerRules", "Decision", "Outcome", "State", "acquire", "report"]
