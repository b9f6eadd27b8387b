"""The workers' JSON decoder: refuses payloads nested deeper than MAX_DEPTH.

A deeply nested message body decodes fine but crashed the worker's main process when it pickled
the job for its prefork pool (RecursionError), and the message came back after every restart.
Refused at decoding, the message is rejected by Celery ("can't decode message body", logged),
counted, and never reaches a task or the pool.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from kombu.serialization import register
from kombu.utils import json as kombu_json

from relops import redis_keys
from relops.logs import log_event
from relops.redis_state import REDIS_FAULTS
from relops.runtime import redis

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
        _count()
        raise ValueError(f"JSON nested deeper than {MAX_DEPTH} levels")
    return value


def _count() -> None:
    with contextlib.suppress(*REDIS_FAULTS):  # the log line above already says it happened
        redis().hincrby(redis_keys.task_faults(), "rejected:undecodable-message", 1)


def install() -> None:
    """Wrap kombu's json decoder in this process; its encoder stays kombu's own, so datetimes,
    decimals and UUIDs keep encoding as kombu's typed values."""
    register("json", kombu_json.dumps, loads, content_type="application/json", content_encoding="utf-8")
