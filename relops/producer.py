"""Sending relops tasks from another process (a service, a crontab line), safely.

A private Celery app never touches the service's own Celery setup; an explicit connection keeps a
CELERY_BROKER_URL in the service's environment (its own broker) from overriding the broker given
here; and no retries plus socket timeouts make a dead or black-holed broker fail within
``timeout_s`` instead of hanging the caller (kombu retries connecting forever by default).
"""

from __future__ import annotations

from typing import Any

import celery


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


class TaskProducer:
    """Publishes tasks by name to one broker; every send raises on failure within ``timeout_s``."""

    def __init__(self, broker_url: str, timeout_s: float = 3.0) -> None:
        self.broker_url = broker_url
        self._app = producer_app(broker_url, timeout_s)

    def send(self, task: str, kwargs: dict[str, Any], queue: str) -> None:
        with self._app.connection_for_write(self.broker_url) as connection:
            self._app.send_task(task, kwargs=kwargs, queue=queue, serializer="json", retry=False, connection=connection)

    def close(self) -> None:
        self._app.close()
