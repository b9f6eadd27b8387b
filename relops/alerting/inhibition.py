"""Inhibition by dependency: a flow's or job's alert is explained by an open breaker of something it
depends on (``depends_on`` in the config), so it is recorded but not notified; the dependency's own
alert pages once instead. Pure: whether a breaker is open is asked through an argument.

Unlike Alertmanager's inhibit rules, the source is the breaker's shared state itself, not the
dependency's alert: a breaker opened by a service that uses ``guard()`` inhibits from the moment it
opens, and silencing the dependency's alert does not lift the inhibition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from relops.alerting.events import SOURCE_BREAKER
from relops.config import RelopsConfig

INHIBITION_PREFIX = "dependency:"


def dependencies_of(config: RelopsConfig, labels: Mapping[str, str]) -> tuple[str, ...]:
    """What the flow or job an alert is about depends on; () for anything else (a breaker's own
    alert is never inhibited)."""
    if labels.get("source") == SOURCE_BREAKER:
        return ()
    found: tuple[str, ...] = ()
    if "flow" in labels and labels["flow"] in config.flows_by_name:
        found += config.flows_by_name[labels["flow"]].depends_on
    if "job" in labels and labels["job"] in config.jobs_by_name:
        found += config.jobs_by_name[labels["job"]].depends_on
    return tuple(dict.fromkeys(found))


def inhibition(dependencies: tuple[str, ...], degraded: Callable[[str], bool]) -> str | None:
    """The inhibition to record ("dependency:<name>", the first open one), or None."""
    for dependency in dependencies:
        if degraded(dependency):
            return INHIBITION_PREFIX + dependency
    return None


def inhibiting_dependency(key: str) -> str | None:
    """The dependency an inhibition key names."""
    return key[len(INHIBITION_PREFIX) :] if key.startswith(INHIBITION_PREFIX) else None
