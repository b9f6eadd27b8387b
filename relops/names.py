"""Task and queue names: part of the contract other services rely on.

Services enqueue these by name (``send_task``) without importing relops, so a rename here
breaks every producer. Add names; never rename one silently.
"""

from typing import Final

# What services send to is defined by the client (relops_client.names) and is the same contract.
from relops_client.names import QUEUE_CRON, QUEUE_INGEST, TASK_CRON_RUN, TASK_RECORD_FLOW_OUTCOMES

#: Evaluation ticks, per-chunk burn-rate evaluation and history pruning.
QUEUE_EVALUATE: Final = "evaluate"
#: Alert events, consumed by the alert router.
QUEUE_ALERTS: Final = "alerts"

#: One queue per alert channel type; a receiver may have a queue of its own ([receivers.NAME] queue).
QUEUE_ALERTS_WEBHOOK: Final = "alerts.webhook"
QUEUE_ALERTS_EMAIL: Final = "alerts.email"
QUEUE_ALERTS_ALERTMANAGER: Final = "alerts.alertmanager"
QUEUE_ALERTS_APPRISE: Final = "alerts.apprise"
QUEUE_ALERTS_PAGERDUTY: Final = "alerts.pagerduty"
QUEUE_ALERTS_TEAMS: Final = "alerts.teams"

ALL_QUEUES: Final = (
    QUEUE_INGEST,
    QUEUE_EVALUATE,
    QUEUE_ALERTS,
    QUEUE_CRON,
    QUEUE_ALERTS_WEBHOOK,
    QUEUE_ALERTS_EMAIL,
    QUEUE_ALERTS_ALERTMANAGER,
    QUEUE_ALERTS_APPRISE,
    QUEUE_ALERTS_PAGERDUTY,
    QUEUE_ALERTS_TEAMS,
)

#: Sent by beat; fans the configured flows out to TASK_EVALUATE_FLOWS in chunks.
#: kwargs: manual: bool (optional, default false; `relops tick`: evaluate even if the slot was taken)
TASK_EVALUATE_TICK: Final = "relops.evaluate_tick"
#: kwargs: as_of: ISO-8601 UTC minute, flows: [str] (a `snapshots` flag of earlier versions is ignored)
TASK_EVALUATE_FLOWS: Final = "relops.evaluate_flows"
#: kwargs: the alert event fields listed in relops.alerting.events.REQUIRED_FIELDS
TASK_DISPATCH_ALERT: Final = "relops.dispatch_alert"
#: Sent by beat; drops minute rows, batch ids and snapshots past their retention.
TASK_PRUNE_HISTORY: Final = "relops.prune_history"
#: kwargs: events: [cron-run event kwargs as for relops.cron_run], at most MAX_CRON_EVENTS_PER_BATCH.
#: Each event is validated, merged and applied as relops.cron_run would, in order, the whole batch
#: in one transaction (an event refused alone is rejected alone); the HTTP intake sends pings this
#: way, many to a message.
TASK_CRON_RUN_BATCH: Final = "relops.cron_run_batch"
MAX_CRON_EVENTS_PER_BATCH: Final = 1000
#: kwargs: batches: [relops.record_flow_outcomes kwargs ({batch_id, counts})], at most
#: MAX_OUTCOME_BATCHES_PER_MESSAGE. Each batch is validated and counted once by its id, exactly as
#: relops.record_flow_outcomes would; the HTTP intake sends outcome batches this way, many to a message.
TASK_RECORD_FLOW_OUTCOME_BATCHES: Final = "relops.record_flow_outcome_batches"
MAX_OUTCOME_BATCHES_PER_MESSAGE: Final = 200
#: Sent by beat; finds missed and overrunning runs of the monitored jobs.
TASK_CHECK_CRON_HEALTH: Final = "relops.check_cron_health"
#: kwargs: receiver: str (unset: the channel's default receiver, named after it), message_key: str |
#: None. Without a key: group the receiver's pending notifications into one message; with one:
#: deliver that message.
TASK_NOTIFY_WEBHOOK: Final = "relops.notify_webhook"
TASK_NOTIFY_EMAIL: Final = "relops.notify_email"
TASK_NOTIFY_ALERTMANAGER: Final = "relops.notify_alertmanager"
TASK_NOTIFY_APPRISE: Final = "relops.notify_apprise"
TASK_NOTIFY_PAGERDUTY: Final = "relops.notify_pagerduty"
TASK_NOTIFY_TEAMS: Final = "relops.notify_teams"
#: Sent by beat; flushes notifications whose grouped flush was lost and restarts stalled messages.
TASK_SWEEP_NOTIFICATIONS: Final = "relops.sweep_notifications"
#: Sent by beat; alerts on breakers open anywhere (services using guard() included), resolves closed ones.
TASK_CHECK_BREAKERS: Final = "relops.check_breakers"
#: Sent by beat; tells the channels about silences created and ended, and unmutes what ended ones muted.
TASK_CHECK_SILENCES: Final = "relops.check_silences"
#: Sent by beat; repeats open, unacknowledged incidents and takes their escalation steps when due.
TASK_CHECK_INCIDENTS: Final = "relops.check_incidents"
#: Sent by beat ([sources] pull_interval_s) when a flow takes its counts from Prometheus: pulls its
#: closed minutes.
TASK_PULL_SLI_SOURCES: Final = "relops.pull_sli_sources"


def channel_queue(channel: str) -> str:
    """alerts.<channel>: every channel module gets its own queue by this rule."""
    return f"{QUEUE_ALERTS}.{channel}"


def notify_task(channel: str) -> str:
    """relops.notify_<channel>: every channel module gets its own task by this rule."""
    return f"relops.notify_{channel}"


TASK_QUEUES: Final = {
    TASK_RECORD_FLOW_OUTCOMES: QUEUE_INGEST,
    TASK_EVALUATE_TICK: QUEUE_EVALUATE,
    TASK_EVALUATE_FLOWS: QUEUE_EVALUATE,
    TASK_PRUNE_HISTORY: QUEUE_EVALUATE,
    TASK_DISPATCH_ALERT: QUEUE_ALERTS,
    TASK_CRON_RUN: QUEUE_CRON,
    TASK_CRON_RUN_BATCH: QUEUE_CRON,
    TASK_RECORD_FLOW_OUTCOME_BATCHES: QUEUE_INGEST,
    TASK_CHECK_CRON_HEALTH: QUEUE_CRON,
    TASK_SWEEP_NOTIFICATIONS: QUEUE_ALERTS,
    TASK_CHECK_BREAKERS: QUEUE_EVALUATE,
    TASK_CHECK_SILENCES: QUEUE_ALERTS,
    TASK_CHECK_INCIDENTS: QUEUE_ALERTS,
    TASK_PULL_SLI_SOURCES: QUEUE_INGEST,
    TASK_NOTIFY_WEBHOOK: QUEUE_ALERTS_WEBHOOK,
    TASK_NOTIFY_EMAIL: QUEUE_ALERTS_EMAIL,
    TASK_NOTIFY_ALERTMANAGER: QUEUE_ALERTS_ALERTMANAGER,
    TASK_NOTIFY_APPRISE: QUEUE_ALERTS_APPRISE,
    TASK_NOTIFY_PAGERDUTY: QUEUE_ALERTS_PAGERDUTY,
    TASK_NOTIFY_TEAMS: QUEUE_ALERTS_TEAMS,
}
