"""Publishing relops tasks from a relops process other than a worker (the intake), safely.

A private Celery app never touches another Celery setup in the process; an explicit connection keeps
a CELERY_BROKER_URL in the environment from overriding the broker given here; and no retries plus
socket timeouts make a dead or black-holed broker fail within ``timeout_s`` instead of hanging the
caller (kombu retries connecting forever by default). Services use relops_client.producer, which
speaks the same protocol without Celery; it is re-exported here.
"""

from __future__ import annotations

import celery
from relops_client.producer import TaskProducer


def producer_app(broker_url: str, timeout_s: float) -> celery.Celery:
    """A private Celery app that only publishes to ``broker_url``, failing within ``timeout_s``."""
    app = celery.Celery(broker=broker_url, set_as_current=False)
    app.conf.update(
        broker_connection_timeout=timeout_s,
        broker_connection_retry=False,
        broker_connection_retry_on_startup=False,
        broker_transport_options={
            "max_retries": 0,
            "socket_timeout": timeout_s,
            "socket_connect_timeout": timeout_s,
            "retry_on_timeout": False,
            # AMQP: the broker confirms each message it stored (ignored by the Redis transport).
            "confirm_publish": True,
        },
        task_serializer="json",
        accept_content=["json"],
        task_create_missing_queues=True,
    )
    return app


__all__ = ["TaskProducer", "producer_app"]
