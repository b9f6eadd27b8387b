"""Rejected input, reported the same way everywhere: one log line per rejection and a row each in
ops_rejected_inputs. Nothing rejected is retried: the same input would fail the same way."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from relops_client.logs import log_event
from sqlalchemy import Engine

from relops.errors import InputRejected, Rejection, excerpt
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
    engine: Engine,
    logger: logging.Logger,
    *,
    task: str,
    event: str,
    reference: tuple[str, Any],
    error: InputRejected,
    payload: Any,
) -> None:
    """A whole payload refused: logged, and recorded in its own transaction. ``reference`` names the
    input where it can, e.g. ("batch_id", the payload's batch_id): only a string is quoted."""
    name, value = reference
    names_it = {name: value if isinstance(value, str) else None}
    rejection = Rejection(None, error.field, error.reason, excerpt(payload))
    log_rejections(logger, event, names_it, [rejection])
    with engine.begin() as conn:
        record_rejections(conn, task, names_it[name], [rejection])
