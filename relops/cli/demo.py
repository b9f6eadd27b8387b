"""``relops demo``: realistic traffic, an outage and a failing cron against the running stack.

Start the stack with ``make demo`` (it points the webhook at this command's local sink and
evaluates every 30 s), then run ``relops demo`` in a second terminal.
"""

from __future__ import annotations

import random
import threading
import time
import uuid

import click

DEMO_SINK_PORT = 9099
OUTAGE_FLOW = "checkout"
FAILING_JOB = "weekly-report"


def _traffic(recorder: object, flows: list[str], stop: threading.Event, outage: threading.Event) -> None:
    """About 20 outcomes a second per flow: 0.05 % errors, 30 % on the outage flow once it starts."""
    rng = random.Random(7)
    while not stop.wait(0.05):
        for flow in flows:
            error_rate = 0.30 if outage.is_set() and flow == OUTAGE_FLOW else 0.0005
            recorder.record(flow, ok=rng.random() >= error_rate)  # type: ignore[attr-defined]


@click.command()
@click.option("--minutes", default=5.0, show_default=True, help="How long to send traffic.")
@click.option("--outage-after", default=45.0, show_default=True, help="Seconds of healthy traffic first.")
def demo(minutes: float, outage_after: float) -> None:
    """Send traffic for the example flows, break one, fail a cron job; print what the webhook gets."""
    from relops_client.cron import broker_sender
    from relops_client.recorder import OutcomeRecorder

    from relops.application.audit import cli_actor
    from relops.db import get_engine
    from relops.localdev.sink import HttpSink
    from relops.settings import get_settings
    from relops.store.users import add_user
    from relops.tokens import hash_token, new_token
    from relops.wiring import get_config

    settings = get_settings()
    config = get_config()
    token = new_token()
    with get_engine(settings.admin_db_url).begin() as conn:
        name = f"demo-{uuid.uuid4().hex[:6]}"
        add_user(conn, name, "admin", hash_token(token))
        cli_actor().record(conn, "user.add", f"user {name}", role="admin")
    click.echo(f"dashboard: http://127.0.0.1:{settings.web_port}/  (sign in as {name} with {token})")
    click.echo(f"webhook sink: http://127.0.0.1:{DEMO_SINK_PORT}/ (start the stack with `make demo` to use it)")

    flows = [f.name for f in config.flows]
    recorder = OutcomeRecorder(broker_url=settings.broker_url, flush_interval_s=2.0)
    stop, outage = threading.Event(), threading.Event()
    with HttpSink(port=DEMO_SINK_PORT, print_requests=True):
        sender = threading.Thread(target=_traffic, args=(recorder, flows, stop, outage), daemon=True)
        sender.start()
        click.echo(f"sending healthy traffic for {len(flows)} flows; outage on {OUTAGE_FLOW} in {outage_after:.0f} s")
        started = time.monotonic()
        try:
            if stop.wait(outage_after):
                return
            outage.set()
            click.echo(f"OUTAGE: {OUTAGE_FLOW} now fails 30 % of requests; {FAILING_JOB} fails its run")
            report = broker_sender(settings.broker_url)
            run_id = uuid.uuid4().hex
            now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            report(
                {
                    "name": FAILING_JOB,
                    "run_id": run_id,
                    "status": "started",
                    "at": now,
                    "duration_ms": None,
                    "result": None,
                    "error": None,
                }
            )
            report(
                {
                    "name": FAILING_JOB,
                    "run_id": run_id,
                    "status": "failure",
                    "at": now,
                    "duration_ms": 4100,
                    "result": None,
                    "error": "SMTPServerDisconnected: Connection unexpectedly closed",
                }
            )
            click.echo("watch: the webhook lines below, `relops status`, `relops incidents`, and the dashboard")
            stop.wait(max(0.0, minutes * 60 - (time.monotonic() - started)))
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            sender.join(timeout=5)
            recorder.close()
    click.echo("demo over: the incidents resolve once the flow recovers and the job succeeds")
