"""Task and queue names: part of the contract other services rely on.

Services enqueue these by name (``send_task``) without importing relops, so a rename here
breaks every producer. Add names; never rename one silently.
"""

from typing import Final

#: Flow outcome batches from services.
QUEUE_INGEST: Final = "ingest"
#: Evaluation ticks, per-chunk burn-rate evaluation and history pruning.
QUEUE_EVALUATE: Final = "evaluate"
#: Alert events, consumed by the alert router.
QUEUE_ALERTS: Final = "alerts"

ALL_QUEUES: Final = (QUEUE_INGEST, QUEUE_EVALUATE, QUEUE_ALERTS)

#: kwargs: batch_id: str, counts: [{flow, minute, good, bad}]
TASK_RECORD_FLOW_OUTCOMES: Final = "relops.record_flow_outcomes"
#: Sent by beat; fans the configured flows out to TASK_EVALUATE_FLOWS in chunks.
TASK_EVALUATE_TICK: Final = "relops.evaluate_tick"
#: kwargs: as_of: ISO-8601 UTC minute, flows: [str]
TASK_EVALUATE_FLOWS: Final = "relops.evaluate_flows"
#: kwargs: the alert event fields listed in relops.alert_event.REQUIRED_FIELDS
TASK_DISPATCH_ALERT: Final = "relops.dispatch_alert"
#: Sent by beat; drops minute rows, batch ids and snapshots past their retention.
TASK_PRUNE_HISTORY: Final = "relops.prune_history"

TASK_QUEUES: Final = {
    TASK_RECORD_FLOW_OUTCOMES: QUEUE_INGEST,
    TASK_EVALUATE_TICK: QUEUE_EVALUATE,
    TASK_EVALUATE_FLOWS: QUEUE_EVALUATE,
    TASK_PRUNE_HISTORY: QUEUE_EVALUATE,
    TASK_DISPATCH_ALERT: QUEUE_ALERTS,
}
