"""The workers' JSON decoder: refuses payloads nested deeper than MAX_DEPTH.

A deeply nested message body decodes fine but crashed the worker's main process when it pickled
the job for its prefork pool (RecursionError), and the message came back after every restart.
Refused at decoding, the message is rejected by Celery ("can't decode message body", logged),
counted, and never reaches a task or the pool.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from kombu.serialization import register
from kombu.utils import json as kombu_json
from relops_client.logs import log_event

MAX_DEPTH = 64
logger = logging.getLogger(__name__)


def depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` nests lists or objects more than ``limit`` deep (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def loads(text: str | bytes | bytearray | memoryview) -> Any:
    """kombu's own JSON decoding (its typed values, datetimes included, come back as they were
    sent), refusing what nests deeper than MAX_DEPTH."""
    try:
        value = kombu_json.loads(text)
    except RecursionError:
        value = None
        too_deep = True
    else:
        too_deep = depth_exceeds(value, MAX_DEPTH)
    if too_deep:
        log_event(
            logger,
            logging.ERROR,
            "message.rejected",
            reason=f"JSON nested deeper than {MAX_DEPTH} levels",
            size=len(text),
        )
        _count_fault("rejected:undecodable-message")  # after the log line: it says so whatever the count's fate
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _not_counted(field: str) -> None:
    """Before install(): nothing to count with (the log line still says it happened)."""


#: Counts a refused message under a field of the task-fault tally (set by install).
_count_fault: Callable[[str], None] = _not_counted


def install(count_fault: Callable[[str], None]) -> None:
    """Wrap kombu's json decoder in this process; its encoder stays kombu's own, so datetimes,
    decimals and UUIDs keep encoding as kombu's typed values."""
    global _count_fault
    _count_fault = count_fault
    register("json", kombu_json.dumps, loads, content_type="application/json", content_encoding="utf-8")
