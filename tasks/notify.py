"""relops.notify_<channel> (one task and one queue per channel) and relops.sweep_notifications.

A notification waits in the outbox (ops_notifications) for a short group window, then every
pending notification of the channel goes out as one message; a failed send retries with backoff
on the channel's own queue, so one channel's failing receiver never delays another.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import timedelta
from typing import Any

from celery.utils.log import get_task_logger
from kombu.exceptions import OperationalError as BrokerError

from relops import names, redis_keys
from relops.backoff import backoff_s
from relops.breakers import get_breaker
from relops.channels.base import Channel, DeliveryError, MessageContext, Notification
from relops.channels.registry import channel_classes, rate_per_s
from relops.logs import log_event
from relops.runtime import engine, get_channels, get_config, redis
from relops.shared_state import REDIS_FAULTS, block_destination, take_token
from relops.store import notifications as outbox
from relops.timeutil import utcnow
from tasks.base import RelopsTask
from workers import app

logger = get_task_logger(__name__)

#: A message whose next attempt is this overdue lost its task (a broker restart): send it again.
STALLED_AFTER = timedelta(minutes=2)


def _send(channel: str, countdown_s: float = 0.0, message_key: str | None = None) -> None:
    kwargs = {"message_key": message_key} if message_key else {}
    app.send_task(
        names.notify_task(channel), kwargs=kwargs, queue=names.channel_queue(channel), countdown=countdown_s or None
    )


def schedule_flush(channel: str, group_wait_s: float, group_interval_s: float) -> None:
    """Ask for one grouped flush of the channel after the group window, unless one is scheduled.

    Right after a flush (a storm still arriving) the wait is group_interval_s instead, so the
    tail of a storm does not sit out a whole new window. Never raises: a notification that
    misses its flush waits in the outbox for the sweeper.
    """
    try:
        client = redis()
        wait_s = (
            min(group_wait_s, group_interval_s) if client.exists(redis_keys.recent_flush(channel)) else group_wait_s
        )
        first = client.set(redis_keys.group_timer(channel), 1, nx=True, px=max(1, int(wait_s * 1000)))
        if first:
            # The group stays "recent" a window past this flush: alerts that keep arriving after it
            # (a storm's tail) wait group_interval_s, not a new window.
            client.set(redis_keys.recent_flush(channel), 1, px=max(1, int((wait_s + group_wait_s) * 1000)))
    except REDIS_FAULTS as exc:
        log_event(
            logger,
            logging.WARNING,
            "notify.group_skipped",
            channel=channel,
            error=type(exc).__name__,
            reason="redis unreachable, flushing without grouping",
        )
        first, wait_s = True, 0.0
    if not first:
        return
    try:
        _send(channel, countdown_s=wait_s)
    except BrokerError as exc:
        log_event(
            logger,
            logging.ERROR,
            "notify.flush_not_scheduled",
            channel=channel,
            error=str(exc)[:200],
            reason="left for the sweeper",
        )


def _flush(channel: Channel) -> dict[str, Any]:
    key = uuid.uuid4().hex
    with engine().begin() as conn:
        claimed = outbox.claim_pending(conn, channel.name, key, utcnow())
        if claimed:
            # Published before the commit: if publishing fails, the claim rolls back.
            _send(channel.name, message_key=key)
    if claimed:
        log_event(logger, logging.INFO, "notify.grouped", channel=channel.name, message_key=key, alerts=claimed)
    return {"message_key": key if claimed else None, "alerts": claimed}


def _retry_later(channel: Channel, key: str, countdown_s: float) -> None:
    with engine().begin() as conn:
        outbox.touch_message(conn, key, utcnow() + timedelta(seconds=countdown_s))
        _send(channel.name, countdown_s=countdown_s, message_key=key)


def _failed(channel: Channel, key: str, error: DeliveryError) -> dict[str, Any]:
    alerts = get_config().alerts
    with engine().begin() as conn:
        attempts = outbox.record_failure(conn, key, error.reason, utcnow())
        if error.retryable and attempts < channel.config.max_attempts:
            countdown = error.retry_after_s or backoff_s(attempts, alerts.retry_base_s, alerts.retry_max_s)
            outbox.touch_message(conn, key, utcnow() + timedelta(seconds=countdown))
            _send(channel.name, countdown_s=countdown, message_key=key)
            log_event(
                logger,
                logging.WARNING,
                "notify.retry",
                channel=channel.name,
                message_key=key,
                attempt=attempts,
                retry_in_s=round(countdown, 2),
                status=error.status,
                reason=error.reason,
            )
            return {"delivered": False, "retry_in_s": countdown}
        dead = outbox.dead_letter(conn, channel=channel.name, key=key, reason=error.reason, attempts=attempts)
    log_event(
        logger,
        logging.ERROR,
        "notify.dead_letter",
        channel=channel.name,
        message_key=key,
        alerts=dead,
        attempts=attempts,
        status=error.status,
        reason=error.reason,
    )
    return {"delivered": False, "dead_letter": True}


def _wait_out_outage(channel: Channel, key: str, wait_s: float, error: DeliveryError | None) -> dict[str, Any]:
    """Wait for the breaker's next trial, or give up once the message has waited max_outage_wait_s."""
    wait_s = max(1.0, wait_s)
    now = utcnow()
    limit_s = channel.config.max_outage_wait_s
    reason = error.reason if error else None
    with engine().begin() as conn:
        waited_s, attempts = outbox.record_outage(conn, key, reason, now + timedelta(seconds=wait_s), now)
        if waited_s < limit_s:
            _send(channel.name, countdown_s=wait_s, message_key=key)
        else:
            why = f"receiver down for over {limit_s} s (breaker {channel.breaker} open): {reason or 'no trial call'}"
            dead = outbox.dead_letter(conn, channel=channel.name, key=key, reason=why, attempts=attempts)
    if waited_s >= limit_s:
        log_event(
            logger, logging.ERROR, "notify.dead_letter", channel=channel.name, message_key=key, alerts=dead, reason=why
        )
        return {"delivered": False, "dead_letter": True}
    log_event(
        logger,
        logging.WARNING,
        "notify.degraded",
        channel=channel.name,
        message_key=key,
        dependency=channel.breaker,
        retry_in_s=round(wait_s, 1),
        waited_s=round(waited_s),
        **({"status": error.status, "reason": error.reason} if error else {}),
    )
    return {"delivered": False, "degraded": True}


def _deliver(channel: Channel, key: str) -> dict[str, Any]:
    with engine().connect() as conn:
        payloads = outbox.message_payloads(conn, key)
    if not payloads:  # delivered or dead already: a redelivered task message
        return {"delivered": False, "alerts": 0}
    # The rate limit first: a trial permit of a half-open breaker must be spent on a real send.
    wait_s = take_token(redis(), channel.destination(), rate_per_s(channel), channel.config.burst)
    if wait_s > 0:
        _retry_later(channel, key, wait_s)
        return {"delivered": False, "rate_limited_s": wait_s}
    breaker = get_breaker(channel.breaker)
    ticket = breaker.admit()
    if ticket is None:  # the receiver is known to be down: wait for the breaker, spend no attempt
        return _wait_out_outage(channel, key, breaker.seconds_until_trial(), None)
    config = get_config()
    context = MessageContext(message_key=key, dashboard_url=config.dashboard_url, max_full=config.alerts.group_max_full)
    started = time.monotonic()
    try:
        channel.send([Notification(**p) for p in payloads], context)
    except DeliveryError as error:
        # A 4xx (429 included: rate limited) means the receiver answered; only outages count.
        breaker.record(ticket, ok=not error.retryable or error.status == 429)
        if error.retry_after_s:
            block_destination(redis(), channel.destination(), error.retry_after_s)
        if ticket.lease and error.retryable and error.status != 429:
            # A failed trial call only confirms the outage the breaker already knows about: spending
            # an attempt on it would turn a few minutes of receiver downtime into dead letters.
            return _wait_out_outage(channel, key, breaker.seconds_until_trial(), error)
        return _failed(channel, key, error)
    breaker.record(ticket, ok=True)
    with engine().begin() as conn:
        outbox.mark_delivered(conn, key, utcnow())
    log_event(
        logger,
        logging.WARNING,
        "notify.delivered",
        channel=channel.name,
        message_key=key,
        alerts=len(payloads),
        send_ms=round((time.monotonic() - started) * 1000),
    )
    return {"delivered": True, "alerts": len(payloads)}


def _register(channel_name: str) -> None:
    @app.task(name=names.notify_task(channel_name), base=RelopsTask)
    def notify(message_key: str | None = None, **_: Any) -> dict[str, Any]:
        channel = get_channels().get(channel_name)
        if channel is None:
            # Its notifications stay pending in the outbox until a worker with the configuration runs.
            log_event(
                logger,
                logging.ERROR,
                "notify.channel_unavailable",
                channel=channel_name,
                reason="not configured in this worker's environment",
            )
            return {"delivered": False}
        return _deliver(channel, message_key) if message_key else _flush(channel)


for _name in channel_classes():
    _register(_name)


@app.task(name=names.TASK_SWEEP_NOTIFICATIONS, base=RelopsTask)
def sweep_notifications(**_: Any) -> dict[str, int]:
    """Flush what missed its grouped flush; resend messages whose retry task was lost."""
    now = utcnow()
    alerts = get_config().alerts
    with engine().connect() as conn:
        due = outbox.channels_with_pending(conn, now - timedelta(seconds=alerts.group_wait_s + 10))
        stalled = outbox.stalled_messages(conn, now - STALLED_AFTER)
    for channel in due:
        _send(channel)
    for channel, key in stalled:
        with engine().begin() as conn:
            outbox.touch_message(conn, key, now)
        _send(channel, message_key=key)
    if due or stalled:
        log_event(logger, logging.WARNING, "notify.swept", channels=",".join(due) or "-", stalled=len(stalled))
    return {"flushed": len(due), "stalled": len(stalled)}
