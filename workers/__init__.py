"""The relops Celery app: ``celery -A workers worker|beat|flower``."""

import sys

from celery import Celery
from celery.signals import worker_process_init, worker_ready

from relops.errors import ConfigError, SettingsError
from relops.runtime import get_config
from relops.safe_json import install as _install_safe_json
from relops.settings import get_settings


def _refuse_to_start_on_bad_settings() -> None:
    """A bad environment or config file stops every process (worker, beat, Flower) at start with the
    message alone: the file, the field and why. Celery would load them later, behind a traceback."""
    try:
        get_settings()
        get_config()
    except (SettingsError, ConfigError) as exc:
        sys.stderr.write(f"relops: cannot start: {exc}\n")
        raise SystemExit(2) from None


_refuse_to_start_on_bad_settings()
# Before any message is consumed: hostile nesting is refused at decoding, not in the pool.
_install_safe_json()

app = Celery("relops")
app.config_from_object("celeryconfig")


@worker_process_init.connect
def _fresh_connections_per_child(**_: object) -> None:
    from relops.breakers.client import reset_breakers
    from relops.runtime import reset_after_fork

    reset_after_fork()
    reset_breakers()


def _alert_on_breaker_transition(dependency: str, before: object, after: object, at_ms: int) -> None:
    """The process whose call moved a breaker tells the alert queue (exactly one per transition)."""
    from relops import names
    from relops.breakers.alerts import BREAKER_RUNBOOK, breaker_event
    from relops.runtime import get_config

    base = get_config().runbook_base_url
    runbook = f"{base.rstrip('/')}/{BREAKER_RUNBOOK}" if base else BREAKER_RUNBOOK
    event = breaker_event(dependency, before, after, at_ms, runbook)  # type: ignore[arg-type]
    if event is not None:
        app.send_task(names.TASK_DISPATCH_ALERT, kwargs=event.as_kwargs(), queue=names.QUEUE_ALERTS)


def _install_breaker_alerts() -> None:
    from relops.breakers.client import add_transition_listener

    add_transition_listener(_alert_on_breaker_transition)


_install_breaker_alerts()


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
