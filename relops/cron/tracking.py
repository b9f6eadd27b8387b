"""``with_cron_tracking`` for jobs: relops_client.cron, re-exported for relops' own jobs and for
services that import it from here."""

from relops_client.cron import (
    ERROR_TAIL_CHARS,
    RESULT_SUMMARY_CHARS,
    Sender,
    broker_sender,
    summarize,
    with_cron_tracking,
)

__all__ = ["ERROR_TAIL_CHARS", "RESULT_SUMMARY_CHARS", "Sender", "broker_sender", "summarize", "with_cron_tracking"]
