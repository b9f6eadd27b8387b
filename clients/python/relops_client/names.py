"""The task and queue names a reporting service sends to: part of relops' contract (relops.names
imports them from here, so there is one definition)."""

from typing import Final

#: Flow outcome batches from services.
QUEUE_INGEST: Final = "ingest"
#: Cron-run events from services.
QUEUE_CRON: Final = "cron"
#: kwargs: batch_id: str, counts: [{flow, minute, good, bad}]
TASK_RECORD_FLOW_OUTCOMES: Final = "relops.record_flow_outcomes"
#: kwargs: name, run_id, status (started|success|failure), at, duration_ms, result, error
TASK_CRON_RUN: Final = "relops.cron_run"
#: Items per outcome batch: the client cuts its batches to this size, relops rejects larger ones.
MAX_ITEMS_PER_BATCH: Final = 5000
#: relops' own dependencies, which every deployment knows: its database and the receivers of its two
#: alert channels (email goes through Resend). [breakers.NAME] tunes them and declares a service's
#: own dependencies; guarding a name that is neither raises KeyError (a typo).
DEFAULT_BREAKERS: Final = ("postgres", "resend_email", "webhook")
