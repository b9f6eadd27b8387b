"""relops.dispatch_alert throughput with 1,000 active silences against none, in the same run.

Silences are asked for every firing alert: the alerts worker keeps the active ones per process
(reloaded at most every second) in an index keyed by their equality matchers, so an alert is
checked against the few that could match it. The alerts here match none of the silences, as most
alerts in life do; the target is at least 0.8x of the rate without silences.
"""

from __future__ import annotations

import statistics
import time

from sqlalchemy import text

from bench.alerts import alert_event
from bench.stack import BenchStack, bench_stack, channel_env, flows_config
from relops.localdev.sink import HttpSink
from tests.support.celery_process import poll_until

EVENTS = 2000
SILENCES = 1000
ROUNDS = 2


def _events_recorded(stack: BenchStack) -> int:
    with stack.db.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ops_alert_events")).scalar_one()


def _dispatch_rate(stack: BenchStack, label: str) -> float:
    """Events per second from the first send to the last event recorded."""
    before = _events_recorded(stack)
    started = time.monotonic()
    with stack.producer.connection_for_write() as connection:
        for i in range(EVENTS):
            stack.producer.send_task(
                "relops.dispatch_alert", kwargs=alert_event(f"{label}-{i}"), queue="alerts", connection=connection
            )
    poll_until(lambda: _events_recorded(stack) >= before + EVENTS, timeout_s=300, interval_s=0.05, what=label)
    return EVENTS / (time.monotonic() - started)


def _add_silences(stack: BenchStack) -> None:
    with stack.db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ops_silences (matchers, starts_at, ends_at, reason, created_by, created_via) "
                "SELECT jsonb_build_array(jsonb_build_object('name', 'flow', 'op', '=', 'value', 'quiet-' || i), "
                "jsonb_build_object('name', 'severity', 'op', '!=', 'value', 'critical')), now(), "
                "now() + interval '1 day', 'bench', 'bench', 'cli' FROM generate_series(1, :n) AS i"
            ),
            {"n": SILENCES},
        )


def _remove_silences(stack: BenchStack) -> None:
    with stack.db.begin() as conn:
        conn.execute(text("UPDATE ops_silences SET expired_at = now() WHERE expired_at IS NULL"))


def run() -> list[str]:
    without, with_silences = [], []
    with (
        HttpSink() as webhook,
        HttpSink() as email,
        bench_stack(flows_config(1, 100), channel_env(webhook, email, "bench")) as stack,
    ):
        stack.worker("bench-alerts", "alerts", concurrency=2, extra_args=("--prefetch-multiplier=8",))
        _dispatch_rate(stack, "warmup")
        for round_ in range(ROUNDS):
            without.append(_dispatch_rate(stack, f"plain-{round_}"))
            _add_silences(stack)
            time.sleep(1.5)  # the workers' silence cache reloads at most every second
            with_silences.append(_dispatch_rate(stack, f"silenced-{round_}"))
            _remove_silences(stack)
            time.sleep(1.5)
    base, silenced = statistics.median(without), statistics.median(with_silences)
    ratio = silenced / base

    def runs(rates: list[float]) -> str:
        return ", ".join(f"{r:,.0f}" for r in rates)

    return [
        f"silences: relops.dispatch_alert, {EVENTS} events a round, 1 worker x 2 processes, median of {ROUNDS}:",
        f"  no silences:            {base:,.0f} events/s (runs {runs(without)})",
        f"  {SILENCES:,} active silences: {silenced:,.0f} events/s (runs {runs(with_silences)})",
        f"  ratio {ratio:.2f}x (target >= 0.8x: {'met' if ratio >= 0.8 else 'MISSED'})",
    ]


if __name__ == "__main__":
    print("\n".join(run()))
