"""relops.check_breakers' logic: every breaker's shared state, read centrally.

The process whose call opens a breaker alerts only if it installed a transition listener, as relops'
own workers do; a service that uses ``guard()`` on its own changes the shared state silently. Beat
runs this check every CHECK_INTERVAL_S, so any breaker open anywhere pages within that long.
"""

from __future__ import annotations

import logging
from typing import Any

from relops_client.logs import log_event

from relops.alerting.events import publish_alert
from relops.application.deps import Deps
from relops.breakers.state_alerts import breaker_fingerprint, breaker_runbook_url, watched_breaker_events
from relops.store.incidents import open_fingerprints

logger = logging.getLogger(__name__)

#: Beat sends relops.check_breakers this often: the longest a breaker opened outside relops'
#: workers goes unnoticed.
CHECK_INTERVAL_S = 15


def check_breakers(deps: Deps) -> dict[str, Any]:
    states = deps.breakers.states()
    with deps.engine.connect() as conn:
        unresolved = open_fingerprints(conn, [breaker_fingerprint(name) for name in states])
    now_ms = int(deps.now().timestamp() * 1000)
    labels = {name: settings.labels for name, settings in deps.config.breaker_settings().items()}
    events = watched_breaker_events(states, unresolved, now_ms, breaker_runbook_url(deps.config), labels)
    for event in events:
        publish_alert(deps.publish, event)
        log_event(
            logger,
            logging.WARNING,
            "breaker.noticed",
            dependency=event.details["dependency"],
            state=event.details["to"],
            reason="shared state differs from its incident",
        )
    return {"breakers": len(states), "alerts": len(events)}
