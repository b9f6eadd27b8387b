"""``python -m bench`` (``make bench``): every relops benchmark, each with its in-run baseline."""

from __future__ import annotations

import sys
import time

from bench import (
    alerts,
    breakers,
    charts,
    client_record,
    cron,
    ingest,
    intake,
    load,
    metrics,
    otlp,
    redelivery,
    routing,
    silences,
    tick,
    tick_scale,
    time_to_page,
)

BENCHES = {
    "client": client_record.run,
    "ingest": ingest.run,
    "tick": tick.run,
    "tick-scale": tick_scale.run,
    "time-to-page": time_to_page.run,
    "alerts": alerts.run,
    "silences": silences.run,
    "routing": routing.run,
    "cron": cron.run,
    "breakers": breakers.run,
    "intake": intake.run,
    "otlp": otlp.run,
    "charts": charts.run,
    "metrics": metrics.run,
    "load": load.run,
    "redelivery-rabbitmq": redelivery.run_rabbitmq,
    "redelivery": redelivery.run,
}
#: Run only when named: the Redis redelivery waits out the 900 s visibility timeout for real.
ONLY_WHEN_NAMED = {"redelivery", "redelivery-rabbitmq"}


def main(selected: list[str]) -> int:
    unknown = [name for name in selected if name not in BENCHES]
    if unknown:
        print(f"unknown bench {unknown}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    mismatched = False
    for name in selected or [name for name in BENCHES if name not in ONLY_WHEN_NAMED]:
        started = time.perf_counter()
        lines = BENCHES[name]()
        for line in lines:
            print(line, flush=True)
        print(f"  ({name}: {time.perf_counter() - started:.0f} s)\n", flush=True)
        # An accounting that does not add up fails the command, not just a line in its output.
        mismatched = mismatched or any("MISMATCH" in line for line in lines)
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
