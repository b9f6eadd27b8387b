"""Rejected input, reported the same way by every task: one log line per rejection and a row each."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from relops.logs import log_event
from relops.outcome_batch import Rejection
from relops.runtime import engine
from relops.store.rejections import record_rejections


def log_rejections(
    logger: logging.Logger, event: str, reference: dict[str, str | None], rejections: Sequence[Rejection]
) -> None:
    """``reference`` names the input in the log line, e.g. {"batch_id": "…"}."""
    for rejection in rejections:
        log_event(
            logger,
            logging.ERROR,
            event,
            **reference,
            item=rejection.item_index,
            field=rejection.field,
            reason=rejection.reason,
            input=rejection.excerpt,
        )


def reject_payload(
    logger: logging.Logger, task: str, event: str, reference: dict[str, str | None], rejection: Rejection
) -> None:
    """A whole payload refused: logged, and recorded in its own transaction."""
    log_rejections(logger, event, reference, [rejection])
    with engine().begin() as conn:
        record_rejections(conn, task, next(iter(reference.values()), None), [rejection])
