"""The relops Celery app: ``celery -A workers worker|beat|flower``."""

from celery import Celery
from celery.signals import worker_process_init, worker_ready

app = Celery("relops")
app.config_from_object("celeryconfig")


@worker_process_init.connect
def _fresh_connections_per_child(**_: object) -> None:
    from relops.runtime import reset_after_fork

    reset_after_fork()


@worker_ready.connect
def _say_which_channels_deliver(**_: object) -> None:
    """Once per worker, at start: each channel that will deliver, and each skipped one with why
    (the skip lines come from building them). Children inherit the built channels."""
    import logging

    from relops.logs import log_event
    from relops.runtime import get_channels

    for name, channel in get_channels().items():
        log_event(
            logging.getLogger("relops.channels"),
            logging.INFO,
            "channel.ready",
            channel=name,
            destination=channel.destination(),
        )


__all__ = ["app"]
