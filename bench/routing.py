"""The 1,000-breach storm routed to 10 teams' webhooks, beside the same storm to the one default
webhook, in the same run.

Every flow burns on one tick. Routed: flow i carries ``team = "team-(i mod 10)"`` and a route per
team sends its alerts to that team's webhook only, so each receiver gets 100 alerts. Baseline: no
routes, so every alert goes to the default webhook (and, critical, to email), as before receivers
existed. Targets: every receiver at most 5 posts, every alert delivered exactly once and to its own
team, and the last message within group_wait_s + 5 s of the tick.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import text

from bench.stack import BenchStack, bench_stack, channel_env
from bench.tick import burn_last_hour, seed
from relops.localdev.sink import HttpSink
from tests.support.celery_process import poll_until

FLOWS = 1000
TEAMS = 10
GROUP_WAIT_S = 5

_ALERTS = f"""
[evaluation]
chunk_size = 100

[alerts]
group_wait_s = {GROUP_WAIT_S}

[alerts.channels.webhook]
rate_per_s = 1.0

[alerts.channels.email]
rate_per_s = 2.0
sender = "relops <alerts@example.com>"
"""


def _config(routed: bool) -> str:
    lines = [_ALERTS]
    for i in range(FLOWS):
        labels = f'\nlabels = {{ team = "team-{i % TEAMS}" }}' if routed else ""
        lines.append(f'[[flows]]\nname = "bench-{i:04d}"\nobjective_percent = 99.9{labels}\n')
    if routed:
        for team in range(TEAMS):
            lines.append(
                f'[receivers.team-{team}]\ntype = "webhook"\nurl_env = "TEAM_{team}_WEBHOOK_URL"\n\n'
                f'[[route.routes]]\nmatchers = ["team=team-{team}"]\nreceivers = ["team-{team}"]\n'
            )
    return "\n".join(lines)


@dataclass
class Storm:
    seconds_to_last: float
    #: From the first alert event recorded to the last.
    dispatch_s: float
    #: Posts each receiver got (by receiver name).
    posts: dict[str, int]
    #: Delivered notifications per receiver.
    delivered: dict[str, int]
    incidents: int
    #: Incidents with other than exactly one delivered notification per receiver they were meant for.
    not_once: int
    #: Notifications that reached a team other than the flow's own.
    misrouted: int
    undelivered: int


def _delivered(stack: BenchStack) -> int:
    with stack.db.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM ops_notifications WHERE status = 'delivered'")).scalar_one()


def _storm(routed: bool) -> Storm:
    with HttpSink() as hooks, HttpSink() as email:
        env = channel_env(hooks, email, "bench")
        env |= {f"TEAM_{t}_WEBHOOK_URL": f"{hooks.url}/services/T/B/team-{t}" for t in range(TEAMS)}
        with bench_stack(_config(routed), env) as stack:
            seed(stack.db, FLOWS)
            with stack.db.begin() as conn:
                burn_last_hour(conn)
            stack.worker("bench-evaluate", "evaluate", concurrency=2)
            stack.worker("bench-alerts", "alerts", concurrency=2, extra_args=("--prefetch-multiplier=8",))
            stack.worker("bench-webhook", "alerts.webhook", concurrency=1)
            stack.worker("bench-email", "alerts.email", concurrency=1)
            owed = FLOWS if routed else 2 * FLOWS  # routed: teams only; baseline: webhook and email
            started = time.monotonic()
            stack.producer.send_task("relops.evaluate_tick", queue="evaluate")
            poll_until(lambda: _delivered(stack) >= owed, timeout_s=300, interval_s=0.05, what="every alert delivered")
            requests = hooks.requests + email.requests
            last = max(r.received_monotonic for r in requests)
            posts: dict[str, int] = {}
            for request in hooks.requests:
                name = request.path.rsplit("/", 1)[-1]
                posts[name if routed else "webhook"] = posts.get(name if routed else "webhook", 0) + 1
            if email.requests:
                posts["email"] = len(email.requests)
            with stack.db.connect() as conn:
                delivered = dict(
                    conn.execute(
                        text("SELECT receiver, count(*) FROM ops_notifications WHERE status = 'delivered' GROUP BY 1")
                    ).all()
                )
                incidents = conn.execute(text("SELECT count(*) FROM ops_incidents")).scalar_one()
                meant = "1" if routed else "2"
                not_once = conn.execute(
                    text(
                        "SELECT count(*) FROM ops_incidents i WHERE (SELECT count(*) FROM ops_notifications n "
                        f"WHERE n.incident_id = i.id AND n.status = 'delivered') <> {meant}"
                    )
                ).scalar_one()
                misrouted = conn.execute(
                    text(
                        "SELECT count(*) FROM ops_notifications n JOIN ops_incidents i ON i.id = n.incident_id "
                        "WHERE n.receiver LIKE 'team-%' AND n.receiver <> i.labels->>'team'"
                    )
                ).scalar_one()
                undelivered = conn.execute(
                    text("SELECT count(*) FROM ops_notifications WHERE status <> 'delivered'")
                ).scalar_one()
                dispatch_s = conn.execute(
                    text("SELECT extract(epoch FROM max(received_at) - min(received_at)) FROM ops_alert_events")
                ).scalar_one()
    return Storm(last - started, float(dispatch_s), posts, delivered, incidents, not_once, misrouted, undelivered)


def run() -> list[str]:
    baseline = _storm(routed=False)
    routed = _storm(routed=True)
    team_posts = [routed.posts.get(f"team-{t}", 0) for t in range(TEAMS)]
    team_delivered = [routed.delivered.get(f"team-{t}", 0) for t in range(TEAMS)]
    accounted = (
        routed.incidents == FLOWS
        and routed.not_once == 0
        and routed.misrouted == 0
        and routed.undelivered == 0
        and team_delivered == [FLOWS // TEAMS] * TEAMS
        and baseline.not_once == 0
    )
    within = routed.seconds_to_last <= GROUP_WAIT_S + 5
    return [
        f"routing: {FLOWS} flows breaching on one tick (group_wait_s={GROUP_WAIT_S}, each webhook 1 msg/s)",
        f"  baseline, one default webhook (+ email): last message {baseline.seconds_to_last:.2f} s after the tick "
        f"(alerts dispatched over {baseline.dispatch_s:.1f} s); "
        f"posts webhook {baseline.posts.get('webhook', 0)}, email {baseline.posts.get('email', 0)}; "
        f"{baseline.incidents} incidents, {baseline.not_once} not delivered exactly once per channel",
        f"  routed to {TEAMS} team webhooks: last message {routed.seconds_to_last:.2f} s after the tick "
        f"(alerts dispatched over {routed.dispatch_s:.1f} s; "
        f"{routed.seconds_to_last / baseline.seconds_to_last:.2f}x the baseline; target <= {GROUP_WAIT_S + 5} s: "
        f"{'met' if within else 'MISSED'})",
        f"  posts per team: {', '.join(map(str, team_posts))} (target <= 5 each: "
        f"{'met' if max(team_posts) <= 5 else 'MISSED'}); alerts per team: {', '.join(map(str, team_delivered))}",
        f"  accounted: {routed.incidents} incidents, {routed.not_once} not delivered exactly once, "
        f"{routed.misrouted} to another team, {routed.undelivered} undelivered" + ("" if accounted else "  MISMATCH"),
    ]


if __name__ == "__main__":
    print("\n".join(run()))
