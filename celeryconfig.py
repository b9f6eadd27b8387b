"""Celery settings for every relops process (workers, beat, Flower).

Values come from relops.settings (environment) and the relops config file, both validated here at
start: a worker with a bad config refuses to start instead of failing on its first task.
Each reliability setting says why it has its value.
"""

from datetime import timedelta

from relops import names
from relops.alerting.followups import CHECK_INTERVAL_S as INCIDENT_CHECK_INTERVAL_S
from relops.application.silence_housekeeping import CHECK_INTERVAL_S as SILENCE_CHECK_INTERVAL_S
from relops.application.watch_breakers import CHECK_INTERVAL_S as BREAKER_CHECK_INTERVAL_S
from relops.broker import TASK_TIME_LIMIT_S, prepare_broker
from relops.channels.registry import channel_classes, queue_names
from relops.settings import get_settings
from relops.wiring import get_config

_settings = get_settings()
_config = get_config()

# Every channel module gets its own queue and task (alerts.<name>, relops.notify_<name>); a receiver
# with a queue of its own is published there explicitly (relops.application.group_windows.send_notify).
_channel_routes = {names.notify_task(name): names.channel_queue(name) for name in channel_classes()}
_queue_names = list(queue_names(_config))

# Redis or RabbitMQ by the URL's scheme; what differs is relops.broker's: on Redis the visibility
# timeout; on RabbitMQ durable quorum queues (on a server that has them) behind topic exchanges,
# publisher confirms, and a check at start that the queues on the server are declared the same way.
_broker = prepare_broker(_settings.broker_url, _queue_names)
_broker_settings = _broker.celery_settings(_queue_names)
broker_url = _broker_settings["broker_url"]
# A sentinel:// broker (the Redis kind) also needs the primary's name and the Sentinels' options.
broker_transport_options = {**_broker_settings["broker_transport_options"], **_settings.broker_sentinel_options}
task_queues = _broker_settings["task_queues"]
if _broker.kind == "amqp":
    # The queue type of queues Celery creates itself (a send to an unlisted queue, countdown delays).
    task_create_missing_queue_type = _broker_settings["task_create_missing_queue_type"]
    task_create_missing_queue_exchange_type = _broker_settings["task_create_missing_queue_exchange_type"]
    broker_native_delayed_delivery_queue_type = _broker_settings["broker_native_delayed_delivery_queue_type"]
broker_connection_retry_on_startup = True

# Results are not used: every task's outcome lands in PostgreSQL, so no result backend to run.
task_ignore_result = True
result_backend = None

# JSON only: a pickled payload from a producer would be code execution on every worker.
task_serializer = "json"
accept_content = ["json"]
event_serializer = "json"

# Ack after the task finishes, and requeue when the worker process dies mid-task: an event is
# redelivered rather than lost. Every task is idempotent (batch ids, unique snapshot keys), so a
# redelivery changes nothing that already committed.
task_acks_late = True
task_reject_on_worker_lost = True
# With late acks each process holds one unacked message at a time: a dying process strands at most
# that one, and a long evaluation does not sit on messages other processes could take.
worker_prefetch_multiplier = 1

# A hung database call or a runaway evaluation is cut off instead of wedging a process forever.
task_soft_time_limit = TASK_TIME_LIMIT_S - 30
task_time_limit = TASK_TIME_LIMIT_S

task_default_queue = names.QUEUE_EVALUATE
task_routes = {task: {"queue": queue} for task, queue in {**names.TASK_QUEUES, **_channel_routes}.items()}

# Task events feed Flower.
worker_send_task_events = True
task_send_sent_event = True

imports = (
    "tasks.ingest",
    "tasks.evaluate",
    "tasks.alerts",
    "tasks.notify",
    "tasks.cron",
    "tasks.maintenance",
    "tasks.sources",
)

worker_log_format = "%(asctime)s %(levelname)s %(processName)s %(name)s %(message)s"
worker_task_log_format = "%(asctime)s %(levelname)s %(processName)s task=%(task_name)s task_id=%(task_id)s %(message)s"

beat_schedule = {
    "evaluate-tick": {
        "task": names.TASK_EVALUATE_TICK,
        "schedule": timedelta(seconds=_config.evaluation.tick_interval_s),
        # A tick older than its interval is stale: the next one is already due.
        "options": {"expires": _config.evaluation.tick_interval_s},
    },
    "check-cron-health": {
        "task": names.TASK_CHECK_CRON_HEALTH,
        "schedule": timedelta(seconds=_config.cron.check_interval_s),
        "options": {"expires": _config.cron.check_interval_s},
    },
    "sweep-notifications": {
        "task": names.TASK_SWEEP_NOTIFICATIONS,
        "schedule": timedelta(seconds=30),
        "options": {"expires": 30},
    },
    "check-breakers": {
        "task": names.TASK_CHECK_BREAKERS,
        "schedule": timedelta(seconds=BREAKER_CHECK_INTERVAL_S),
        "options": {"expires": BREAKER_CHECK_INTERVAL_S},
    },
    "check-silences": {
        "task": names.TASK_CHECK_SILENCES,
        "schedule": timedelta(seconds=SILENCE_CHECK_INTERVAL_S),
        "options": {"expires": SILENCE_CHECK_INTERVAL_S},
    },
    "check-incidents": {
        "task": names.TASK_CHECK_INCIDENTS,
        "schedule": timedelta(seconds=INCIDENT_CHECK_INTERVAL_S),
        "options": {"expires": INCIDENT_CHECK_INTERVAL_S},
    },
    "prune-history": {
        "task": names.TASK_PRUNE_HISTORY,
        "schedule": timedelta(hours=1),
        "options": {"expires": 3600},
    },
}
if any(flow.prometheus is not None for flow in _config.flows):
    beat_schedule["pull-sli-sources"] = {
        "task": names.TASK_PULL_SLI_SOURCES,
        "schedule": timedelta(seconds=_config.sources.pull_interval_s),
        "options": {"expires": _config.sources.pull_interval_s},
    }
