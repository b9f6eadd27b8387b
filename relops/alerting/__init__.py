"""Alerting: the alert event contract, routing to channels, dedup and rate limits shared through
Redis (each Lua script beside the Python that runs it), grouped delivery and incident changes."""
