"""One side of the incident race, run as its own process by test_incident_races.py:

    python -m tests.integration.race_roles check SECONDS        # relops.check_incidents, again and again
    python -m tests.integration.race_roles ack SEED ID...        # acknowledge each, in a shuffled order
    python -m tests.integration.race_roles resolve SEED FP...    # resolve each fingerprint, shuffled

Each runs the same logic a worker or the CLI runs, with this run's environment, and prints one JSON
line of what it did. Flush requests are dropped: the outbox rows are what the test checks.
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from typing import Any

from relops_client.breakers import process_breakers

from relops.application.audit import cli_actor
from relops.application.deps import Deps
from relops.application.incident_check import check_incidents
from relops.application.incidents import change_incident
from relops.application.route_alert import dispatch_alert
from relops.timeutil import utcnow
from relops.wiring import engine, get_config, get_receivers, redis


def deps() -> Deps:
    return Deps(
        engine=engine(),
        redis=redis(),
        config=get_config(),
        receivers=get_receivers(),
        publish=lambda *args, **kwargs: None,
        breakers=process_breakers(),
    )


def main(role: str, args: list[str]) -> dict[str, Any]:
    if role == "check":
        deadline = time.monotonic() + float(args[0])
        totals = {"checks": 0, "repeats": 0, "escalations": 0}
        while time.monotonic() < deadline:
            result = check_incidents(deps())
            totals["checks"] += 1
            totals["repeats"] += result["repeats"]
            totals["escalations"] += result["escalations"]
        return totals
    order = args[1:]
    random.Random(int(args[0])).shuffle(order)
    if role == "ack":
        acked = [int(i) for i in order if change_incident(engine(), redis(), [], int(i), "ack", utcnow(), cli_actor())]
        return {"acked": acked}
    if role == "resolve":
        for fingerprint in order:
            event = {
                "dedup_key": fingerprint,
                "fingerprint": fingerprint,
                "severity": "ok",
                "status": "resolved",
                "source": "slo",
                "title": f"RESOLVED: {fingerprint}",
                "summary": "",
                "details": {},
                "runbook_url": "",
                "occurred_at": utcnow().isoformat(),
                "labels": {"team": "a", "flow": "payments"},
            }
            dispatch_alert(deps(), event, event_id=uuid.uuid4().hex)
        return {"resolved": len(order)}
    raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2:])), flush=True)
