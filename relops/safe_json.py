"""The workers' JSON decoder: refuses payloads nested deeper than MAX_DEPTH.

A deeply nested message body decodes fine but crashed the worker's main process when it pickled
the job for its prefork pool (RecursionError), and the message came back after every restart.
Refused at decoding, the message is rejected by Celery ("can't decode message body", logged),
counted, and never reaches a task or the pool.
"""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

from kombu.serialization import register

from relops.logs import log_event

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


def loads(text: str | bytes) -> Any:
    try:
        value = json.loads(text)
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
    from relops import redis_keys
    from relops.runtime import redis
    from relops.shared_state import REDIS_FAULTS

    with contextlib.suppress(*REDIS_FAULTS):  # the log line above already says it happened
        redis().hincrby(redis_keys.task_faults(), "rejected:undecodable-message", 1)


def install() -> None:
    """Replace kombu's json decoder in this process (encoding is unchanged)."""
    register("json", json.dumps, loads, content_type="application/json", content_encoding="utf-8")
