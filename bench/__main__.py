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
    routing,
    silences,
    tick,
    tick_scale,
)

BENCHES = {
    "client": client_record.run,
    "ingest": ingest.run,
    "tick": tick.run,
    "tick-scale": tick_scale.run,
    "alerts": alerts.run,
    "silences": silences.run,
    "routing": routing.run,
    "cron": cron.run,
    "breakers": breakers.run,
    "intake": intake.run,
    "charts": charts.run,
    "load": load.run,
}


def main(selected: list[str]) -> int:
    unknown = [name for name in selected if name not in BENCHES]
    if unknown:
        print(f"unknown bench {unknown}; choose from {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    mismatched = False
    for name in selected or list(BENCHES):
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
