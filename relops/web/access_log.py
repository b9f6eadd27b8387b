"""uvicorn's logging for `relops web`, with every request target redacted before it is written.

A token sent where it does not belong (``?token=…``, a key in the path) is refused, but the access
log would still have kept it: the filter rewrites the record's path first, so no handler, format
or later change of format can print it.
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


def log_config() -> dict[str, Any]:
    """uvicorn's default logging, with RedactTargets on the access log."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_targets"] = {"()": RedactTargets}
    config["handlers"]["access"]["filters"] = ["redact_targets"]
    return config
