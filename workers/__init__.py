"""The relops Celery app: ``celery -A workers worker|beat|flower``."""

from celery import Celery
from celery.signals import worker_process_init

app = Celery("relops")
app.config_from_object("celeryconfig")


@worker_process_init.connect
def _fresh_connections_per_child(**_: object) -> None:
    from relops.runtime import reset_after_fork

    reset_after_fork()


__all__ = ["app"]
