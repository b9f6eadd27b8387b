"""uvicorn's logging for `relops web` and `relops intake`, with every request target redacted
before it is written.

A token sent where it does not belong (``?token=…``, a key in the path) is refused, but the access
log would still have kept it: the filter rewrites the record's path first, so no handler, format
or later change of format can print it.

The intake counts its refusals itself, a line per kind per second (relops.intake.rejection_log):
its access log leaves them out, so a flood of bad requests is not a flood of lines.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

from uvicorn.config import LOGGING_CONFIG

from relops.redaction import redact_request_target


class RedactTargets(logging.Filter):
    """On uvicorn.access records: args are (client, method, path?query, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, target, version, status = args
            record.args = (client, method, redact_request_target(str(target)), version, status)
        return True


class SkipRefusals(logging.Filter):
    """Drops access records of refused requests (4xx, 503): the app has counted them. A 500 stays."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[4], int):
            return not (400 <= args[4] < 500 or args[4] == 503)
        return True


#: The loggers relops' own lines are written under (relops' modules and the client library's).
RELOPS_LOGGERS = ("relops", "relops_client")


def log_config(*, level: str = "INFO", skip_refusals: bool = False) -> dict[str, Any]:
    """uvicorn's default logging, with RedactTargets on the access log (and SkipRefusals, when asked),
    and relops' own lines (``event=…``) written at ``level`` and above (RELOPS_LOG_LEVEL) through
    uvicorn's handler: uvicorn configures only its own loggers, so without this relops' INFO lines
    were dropped and its warnings printed without a level."""
    config = copy.deepcopy(LOGGING_CONFIG)
    filters = config.setdefault("filters", {})
    filters["redact_targets"] = {"()": RedactTargets}
    config["handlers"]["access"]["filters"] = ["redact_targets"]
    if skip_refusals:
        filters["skip_refusals"] = {"()": SkipRefusals}
        config["handlers"]["access"]["filters"].insert(0, "skip_refusals")
    for name in RELOPS_LOGGERS:
        config["loggers"][name] = {"handlers": ["default"], "level": level, "propagate": False}
    return config
