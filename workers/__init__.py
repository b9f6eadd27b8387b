"""The relops Celery app: ``celery -A workers worker|beat|flower``."""

import logging
import os
import sys

from celery import Celery
from celery._state import get_current_task
from celery.signals import after_setup_logger, worker_process_init, worker_ready
from relops_client.breaker_machine import State
from relops_client.breakers import add_transition_listener, reset_breakers
from relops_client.logs import log_event

from relops.alerting.events import publish_alert
from relops.breakers.state_alerts import breaker_event, breaker_runbook_url
from relops.compression import install as _install_bounded_decompression
from relops.errors import BrokerError, ConfigError, SettingsError
from relops.heap import settle_after_startup
from relops.http_log import mask_http_library_logs
from relops.redaction import known_secrets
from relops.safe_json import install as _install_safe_json
from relops.settings import get_settings
from relops.wiring import count_task_fault, get_config, get_receivers, reset_after_fork, use_config_breakers


def _refuse_to_start_on_bad_settings() -> None:
    """A bad environment or config file, or a broker relops cannot use as configured, stops every
    process (worker, beat, Flower) at start with the message alone: the file, the field or the
    queue, and why. Celery would load them later, behind a traceback."""
    try:
        get_settings()
        get_config()
        # The Celery settings, loaded now: on RabbitMQ they come from asking the server (relops.broker).
        import celeryconfig  # noqa: F401
    except (SettingsError, ConfigError, BrokerError) as exc:
        sys.stderr.write(f"relops: cannot start: {exc}\n")
        raise SystemExit(2) from None


_refuse_to_start_on_bad_settings()
# Before any message is consumed: hostile nesting is refused at decoding, not in the pool, and a
# compressed message that would inflate past its bound is refused before it is inflated.
_install_safe_json(count_task_fault)
_install_bounded_decompression(count_task_fault)
use_config_breakers()

app = Celery("relops")
app.config_from_object("celeryconfig")


class TaskAwareFormatter(logging.Formatter):
    """Adds ``task=<name> task_id=<id>`` to every line logged while a task runs, from any logger:
    relops' task logic lives in the library and logs under its own module names."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        task = get_current_task()
        if task is None or task.request is None or not task.request.id:
            return line
        return f"{line} task={task.name} task_id={task.request.id}"


@after_setup_logger.connect
def _task_ids_on_every_line(logger: logging.Logger, format: str, **_: object) -> None:
    for handler in logger.handlers:
        handler.setFormatter(TaskAwareFormatter(format))


@after_setup_logger.connect
def _level_from_the_environment(logger: logging.Logger, **_: object) -> None:
    """RELOPS_LOG_LEVEL, when set, decides the level of every relops process, workers and beat too;
    unset, Celery's ``--loglevel`` does (the Procfile's and compose's INFO)."""
    if "RELOPS_LOG_LEVEL" in os.environ:
        logger.setLevel(get_settings().log_level)


@after_setup_logger.connect
def _no_url_path_from_http_libraries(logger: logging.Logger, **_: object) -> None:
    """At any level (DEBUG too), what urllib3 and the other HTTP libraries log about a receiver
    shows its host, never its path or query (often its credential): relops.http_log."""
    mask_http_library_logs(known_secrets(get_settings()), logger.handlers)


@worker_process_init.connect
def _fresh_connections_per_child(**_: object) -> None:
    reset_after_fork()
    settle_after_startup()
    reset_breakers()


def _alert_on_breaker_transition(dependency: str, before: State, after: State, at_ms: int) -> None:
    """The process whose call moved a breaker tells the alert queue (exactly one per transition)."""
    config = get_config()
    own = config.breaker_settings().get(dependency)
    event = breaker_event(dependency, before, after, at_ms, breaker_runbook_url(config), own.labels if own else None)
    if event is not None:
        publish_alert(lambda task, kwargs, queue: app.send_task(task, kwargs=kwargs, queue=queue), event)


add_transition_listener(_alert_on_breaker_transition)


@worker_ready.connect
def _say_which_receivers_deliver(**_: object) -> None:
    """Once per worker, at start: each receiver that will deliver, and each skipped one with why
    (the skip lines come from building them). Children inherit the built receivers."""
    for name, channel in get_receivers().items():
        log_event(
            logging.getLogger("relops.channels"),
            logging.INFO,
            "channel.ready",
            channel=channel.name,
            receiver=name,
            destination=channel.destination(),
            queue=channel.queue,
        )


__all__ = ["app"]
