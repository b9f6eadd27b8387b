"""Alert delivery: (a) latency of one breach from alert event to webhook received, over separate
breaches, beside a direct HTTP post to the same receiver; (b) 1,000 flows breaching on one tick:
time to the last message, posts per channel, and every alert accounted for."""

from __future__ import annotations

import statistics
import time

import requests
from sqlalchemy import text

from bench.stack import BenchStack, bench_stack, channel_env, flows_config
from bench.tick import burn_last_hour, seed
from relops.localdev.sink import HttpSink
from relops.timeutil import utcnow
from tests.support.celery_process import poll_until

BREACHES = 200
FLOWS = 1000

_ALERTS = """
[alerts]
group_wait_s = {group_wait_s}

[alerts.channels.webhook]
rate_per_s = {webhook_rate}

[alerts.channels.email]
rate_per_s = 2.0
sender = "relops <alerts@example.com>"
"""


def _start_alert_workers(stack: BenchStack) -> None:
    stack.worker("bench-alerts", "alerts", concurrency=2, extra_args=("--prefetch-multiplier=8",))
    stack.worker("bench-webhook", "alerts.webhook", concurrency=1)
    stack.worker("bench-email", "alerts.email", concurrency=1)


def alert_event(flow: str) -> dict[str, object]:
    key = f"slo:{flow}"
    return {
        "dedup_key": key,
        "fingerprint": key,
        "severity": "warning",
        "source": "slo",
        "title": f"WARNING: {flow} burning its error budget at 8.0x over 1h",
        "summary": f"{flow}: 8 bad of 1000 events in the last 1h.",
        "details": {"flow": flow},
        "runbook_url": "",
        "occurred_at": utcnow().isoformat(),
    }


def _percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def single_breach_latency(breaches: int = BREACHES) -> list[str]:
    with HttpSink() as webhook, HttpSink() as email:
        # Separate breaches are minutes apart in life; a high rate limit keeps the one-per-second
        # webhook limit from queueing back-to-back breaches here.
        config = flows_config(1, 100, extra=_ALERTS.format(group_wait_s=0, webhook_rate=100))
        with bench_stack(config, channel_env(webhook, email, "bench")) as stack:
            _start_alert_workers(stack)
            latencies = []
            for i in range(breaches):
                before = webhook.received
                started = time.monotonic()
                stack.producer.send_task("relops.dispatch_alert", kwargs=alert_event(f"bench-{i}"), queue="alerts")
                received = webhook.wait_for_requests(before + 1, timeout_s=60)[before]
                latencies.append(received.received_monotonic - started)
        direct = []
        for _ in range(breaches):
            started = time.monotonic()
            requests.post(webhook.url + "/direct", json={"text": "x"}, timeout=5)
            direct.append(time.monotonic() - started)
    p50, p99 = _percentile(latencies, 50) * 1000, _percentile(latencies, 99) * 1000
    d50 = statistics.median(direct) * 1000
    return [
        f"alerts (a): {breaches} separate breaches, alert event -> webhook received (group_wait_s=0):",
        f"  p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {max(latencies) * 1000:.0f} ms",
        f"  baseline, direct POST to the same receiver: p50 {d50:.1f} ms (relops p50 is {p50 / d50:.0f}x)",
        "  (a deployment adds its group_wait_s, 5 s by default, to the first alert of a burst)",
    ]


def _delivered(stack: BenchStack, channel: str) -> int:
    with stack.db.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM ops_notifications WHERE channel = :c AND status = 'delivered'"), {"c": channel}
        ).scalar_one()


def storm(flows: int = FLOWS) -> list[str]:
    with HttpSink() as webhook, HttpSink() as email:
        config = flows_config(flows, 100, extra=_ALERTS.format(group_wait_s=5, webhook_rate=1.0))
        with bench_stack(config, channel_env(webhook, email, "bench")) as stack:
            seed(stack.db, flows)
            with stack.db.begin() as conn:
                burn_last_hour(conn)
            stack.worker("bench-evaluate", "evaluate", concurrency=2)
            _start_alert_workers(stack)
            started = time.monotonic()
            stack.producer.send_task("relops.evaluate_tick", queue="evaluate")
            poll_until(
                lambda: _delivered(stack, "webhook") >= flows and _delivered(stack, "email") >= flows,
                timeout_s=300,
                interval_s=0.05,
                what="every alert delivered on both channels",
            )
            last = max(r.received_monotonic for r in webhook.requests + email.requests)
            delivered = {channel: _delivered(stack, channel) for channel in ("webhook", "email")}
            with stack.db.connect() as conn:
                incidents = conn.execute(text("SELECT count(*) FROM ops_incidents")).scalar_one()
                undelivered = conn.execute(
                    text("SELECT count(*) FROM ops_notifications WHERE status <> 'delivered'")
                ).scalar_one()
    return [
        f"alerts (b): {flows} flows breaching on one tick (group_wait_s=5, webhook 1 msg/s, email 2 msg/s):",
        f"  tick sent -> last message received: {last - started:.2f} s (target < 10 s)",
        f"  posts: webhook {len(webhook.requests)}, email {len(email.requests)} (target <= 5 per channel)",
        f"  accounted: {incidents} incidents; delivered webhook {delivered['webhook']}, "
        f"email {delivered['email']}; {undelivered} notifications not delivered",
    ]


def run() -> list[str]:
    return [*single_breach_latency(), *storm()]


if __name__ == "__main__":
    print("\n".join(run()))
