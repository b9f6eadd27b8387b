"""relops.notify_<channel>'s and relops.sweep_notifications' logic: the outbox to the receivers.

A flush claims every pending notification of a receiver into one message; delivering a message
takes a token from the destination's shared rate limit, a permit from the receiver's breaker, then
sends. A failed send retries with backoff on the channel's own queue until ``max_attempts``, then
becomes a dead letter; while the receiver is known to be down (breaker open) the message waits
without spending attempts, up to ``max_outage_wait_s``.

Every task here is published after the transaction whose rows it reads has committed: a delivery
taken by another process before its claim is visible would find nothing under its key and drop the
message until the sweeper found it stalled. A publish that fails after the commit undoes the claim
(flush) or leaves the message to the sweeper (a retry), which resends what is overdue.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

from kombu.exceptions import OperationalError as BrokerError
from relops_client.logs import EventLog, log_event

from relops import names
from relops.application.deps import Deps
from relops.application.group_windows import Destination, destination_of, send_notify
from relops.backoff import backoff_s, longest_retry_schedule_s
from relops.broker import clamp_countdown
from relops.channels.base import Channel, DeliveryError, MessageContext, Notification
from relops.channels.http import MAX_RETRY_AFTER_S
from relops.channels.registry import rate_per_s
from relops.state.delivered_parts import RedisDeliveredParts
from relops.state.rate_limit import block_destination, take_token
from relops.store import notifications as outbox
from relops.timeutil import parse_utc

logger = logging.getLogger(__name__)

#: A message whose next attempt is this overdue lost its task (a broker restart): send it again.
STALLED_AFTER = timedelta(minutes=2)
#: How long past its longest retry schedule a message's record of delivered destinations is kept:
#: rate-limit waits (which spend no attempt) and a sweeper's resend come on top of the schedule.
DELIVERED_PARTS_MARGIN_S = 3600


def _message_log(channel: Channel, key: str) -> EventLog:
    """Every line about one message names its channel, receiver and key (grep by any of them)."""
    return EventLog(logger, channel=channel.name, receiver=channel.receiver, message_key=key)


def _send_later(deps: Deps, channel: Channel, key: str, countdown_s: float) -> None:
    """Schedule the message's next attempt (its next_attempt_at committed already). A broker fault
    leaves the message to the sweeper, which resends it once it is STALLED_AFTER overdue."""
    try:
        send_notify(deps.publish, destination_of(channel), countdown_s=countdown_s, message_key=key)
    except BrokerError as exc:
        _message_log(channel, key)(
            logging.ERROR, "notify.retry_not_scheduled", error=type(exc).__name__, reason="left for the sweeper"
        )


def flush(deps: Deps, channel: Channel) -> dict[str, Any]:
    """Claim the receiver's pending notifications into one new message and ask for its delivery."""
    key = uuid.uuid4().hex
    with deps.engine.begin() as conn:
        claimed = outbox.claim_pending(conn, channel.receiver, key, deps.now())
    if claimed:
        try:
            send_notify(deps.publish, destination_of(channel), message_key=key)
        except BrokerError:
            # Back to pending, so the flush's retry (or the sweeper) claims them again.
            with deps.engine.begin() as conn:
                outbox.release_claim(conn, key)
            raise
        _message_log(channel, key)(logging.INFO, "notify.grouped", alerts=claimed)
    return {"message_key": key if claimed else None, "alerts": claimed}


def _retry_later(deps: Deps, channel: Channel, key: str, countdown_s: float) -> None:
    """Try the message again in ``countdown_s`` (clamped: a task that wakes before what it waits for
    is over checks again and waits again)."""
    countdown_s = clamp_countdown(countdown_s)
    with deps.engine.begin() as conn:
        outbox.touch_message(conn, key, deps.now() + timedelta(seconds=countdown_s))
    _send_later(deps, channel, key, countdown_s)


def _dead(deps: Deps, channel: Channel, key: str, reason: str, attempts: int, status: int | None = None) -> dict:
    with deps.engine.begin() as conn:
        dead = outbox.dead_letter(
            conn, channel=channel.name, receiver=channel.receiver, key=key, reason=reason, attempts=attempts
        )
    _message_log(channel, key)(
        logging.ERROR, "notify.dead_letter", alerts=dead, attempts=attempts, status=status, reason=reason
    )
    return {"delivered": False, "dead_letter": True}


def _failed(deps: Deps, channel: Channel, key: str, error: DeliveryError) -> dict[str, Any]:
    alerts = deps.config.alerts
    with deps.engine.begin() as conn:
        attempts = outbox.record_failure(conn, key, error.reason, deps.now())
        retry = error.retryable and attempts < channel.config.max_attempts
        if retry:
            wanted = error.retry_after_s or backoff_s(attempts, alerts.retry_base_s, alerts.retry_max_s)
            countdown = clamp_countdown(wanted)
            outbox.touch_message(conn, key, deps.now() + timedelta(seconds=countdown))
    if retry:
        _send_later(deps, channel, key, countdown)
        _message_log(channel, key)(
            logging.WARNING,
            "notify.retry",
            attempt=attempts,
            retry_in_s=round(countdown, 2),
            status=error.status,
            reason=error.reason,
        )
        return {"delivered": False, "retry_in_s": countdown}
    return _dead(deps, channel, key, error.reason, attempts, error.status)


def _wait_out_outage(deps: Deps, channel: Channel, key: str, wait_s: float, error: DeliveryError | None) -> dict:
    """Wait for the breaker's next trial, or give up once the message has waited max_outage_wait_s."""
    now = deps.now()
    wait_s = clamp_countdown(max(1.0, wait_s))
    limit_s = channel.config.max_outage_wait_s
    reason = error.reason if error else None
    with deps.engine.begin() as conn:
        waited_s, attempts = outbox.record_outage(conn, key, reason, now + timedelta(seconds=wait_s), now)
    if waited_s >= limit_s:
        why = f"receiver down for over {limit_s} s (breaker {channel.breaker} open): {reason or 'no trial call'}"
        return _dead(deps, channel, key, why, attempts)
    _send_later(deps, channel, key, wait_s)
    _message_log(channel, key)(
        logging.WARNING,
        "notify.degraded",
        dependency=channel.breaker,
        retry_in_s=round(wait_s, 1),
        waited_s=round(waited_s),
        **({"status": error.status, "reason": error.reason} if error else {}),
    )
    return {"delivered": False, "degraded": True}


def _idempotency_expired(deps: Deps, channel: Channel, key: str) -> int | None:
    """For a channel whose receiver deduplicates by idempotency key: record this attempt, and return
    the attempts spent so far when the receiver no longer remembers the key from the first attempt
    (a resend could be a second copy of a message already delivered); None when sending is safe."""
    window = channel.idempotency_window_s
    if window is None:
        return None
    with deps.engine.begin() as conn:
        first, attempts = outbox.start_attempt(conn, key, deps.now())
    if first is not None and (deps.now() - first).total_seconds() > window:
        return attempts
    return None


def _after_resolution(deps: Deps, channel: Channel, payloads: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For a receiver that follows incidents: the payloads left once those of episodes whose
    resolution it already heard are dropped. A firing retried after a later message resolved its
    episode would open a new PagerDuty incident for a problem that is over."""
    ids = {p["incident_id"] for p in payloads if p.get("incident_id") is not None and p.get("kind") != "resolved"}
    if not ids:
        return payloads
    with deps.engine.connect() as conn:
        over = {(i, _instant(at)) for i, at in outbox.resolutions_delivered(conn, channel.receiver, sorted(ids))}
    return [
        p
        for p in payloads
        if p.get("kind") == "resolved" or (p.get("incident_id"), _instant(p.get("opened_at"))) not in over
    ]


def _instant(text: str | None) -> datetime | None:
    """An episode start as an instant: payloads written by processes in different time zones compare."""
    try:
        return parse_utc(text) if text else None
    except ValueError:
        return None


def _delivered_parts_ttl_s(deps: Deps, channel: Channel) -> int:
    """Until past the message's last possible retry: a record that expired earlier would let a late
    retry send to a destination that took the message already."""
    schedule_s = longest_retry_schedule_s(
        max_attempts=channel.config.max_attempts,
        retry_max_s=deps.config.alerts.retry_max_s,
        max_retry_after_s=MAX_RETRY_AFTER_S,
        max_outage_wait_s=channel.config.max_outage_wait_s,
    )
    return int(schedule_s + STALLED_AFTER.total_seconds() + DELIVERED_PARTS_MARGIN_S)


def deliver(deps: Deps, channel: Channel, key: str) -> dict[str, Any]:
    """One attempt at message ``key``: rate limit, breaker, idempotency window, send, then record what
    happened."""
    with deps.engine.connect() as conn:
        payloads = outbox.message_payloads(conn, key)
    if not payloads:  # delivered or dead already: a redelivered task message
        return {"delivered": False, "alerts": 0}
    if channel.follows_incidents:
        kept = _after_resolution(deps, channel, payloads)
        if not kept:
            with deps.engine.begin() as conn:
                outbox.mark_delivered(conn, key, deps.now())
            _message_log(channel, key)(
                logging.INFO, "notify.superseded", alerts=len(payloads), reason="their episodes' resolution was heard"
            )
            return {"delivered": False, "superseded": len(payloads)}
        payloads = kept
    # The rate limit first: a trial permit of a half-open breaker must be spent on a real send.
    wait_s = take_token(deps.redis, channel.rate_limit_key(), rate_per_s(channel), channel.config.burst)
    if wait_s > 0:
        _retry_later(deps, channel, key, wait_s)
        return {"delivered": False, "rate_limited_s": wait_s}
    breaker = deps.breakers.get(channel.breaker)
    ticket = breaker.admit()
    if ticket is None:  # the receiver is known to be down: wait for the breaker, spend no attempt
        return _wait_out_outage(deps, channel, key, breaker.seconds_until_trial(), None)
    expired_after = _idempotency_expired(deps, channel, key)
    if expired_after is not None:
        # The ticket goes unreported: nothing was asked of the receiver (a probe's lease expires).
        why = (
            f"first attempt over {channel.idempotency_window_s:.0f} s ago: the receiver no longer remembers "
            "its idempotency key and may have delivered it already, so it is not sent again"
        )
        return _dead(deps, channel, key, why, expired_after)
    config = deps.config
    context = MessageContext(
        message_key=key,
        dashboard_url=config.dashboard_url,
        max_full=config.alerts.group_max_full,
        delivered=RedisDeliveredParts(deps.redis, channel.receiver, key, _delivered_parts_ttl_s(deps, channel)),
    )
    started = time.monotonic()
    try:
        channel.send([Notification(**p) for p in payloads], context)
    except DeliveryError as error:
        # Only an outage counts against the breaker: a 4xx (429 and Resend's 409 included) means
        # the receiver answered, and a receiver of several destinations that some of them took the
        # message from is not down (an HA pair with one member down keeps hearing every alert).
        outage = error.retryable and not error.partial and (error.status is None or error.status >= 500)
        breaker.record(ticket, ok=not outage)
        if error.retry_after_s:
            block_destination(deps.redis, channel.rate_limit_key(), error.retry_after_s)
        if ticket.lease and outage:
            # A failed trial call only confirms the outage the breaker already knows about: spending
            # an attempt on it would turn a few minutes of receiver downtime into dead letters.
            return _wait_out_outage(deps, channel, key, breaker.seconds_until_trial(), error)
        return _failed(deps, channel, key, error)
    breaker.record(ticket, ok=True)
    with deps.engine.begin() as conn:
        outbox.mark_delivered(conn, key, deps.now())
    _message_log(channel, key)(
        logging.WARNING,
        "notify.delivered",
        alerts=len(payloads),
        send_ms=round((time.monotonic() - started) * 1000),
    )
    return {"delivered": True, "alerts": len(payloads)}


def notify(deps: Deps, receiver: str, message_key: str | None) -> dict[str, Any]:
    """relops.notify_<channel>: flush the receiver's pending notifications, or deliver one message."""
    channel = deps.receivers.get(receiver)
    if channel is None:
        # Its notifications stay pending in the outbox until a worker with the configuration runs.
        log_event(
            logger,
            logging.ERROR,
            "notify.receiver_unavailable",
            receiver=receiver,
            reason="not configured in this worker's environment (see its channel.skipped line at start)",
        )
        return {"delivered": False}
    return deliver(deps, channel, message_key) if message_key else flush(deps, channel)


def destination_by_name(deps: Deps, receiver: str) -> Destination:
    """Where a receiver's tasks go, also for one this process cannot deliver to (its worker can)."""
    channel = deps.receivers.get(receiver)
    if channel is not None:
        return destination_of(channel)
    spec = deps.config.receivers.get(receiver)
    channel_type = spec.type if spec is not None else receiver
    queue = spec.queue if spec is not None and spec.queue else names.channel_queue(channel_type)
    return Destination(channel_type, receiver, queue)


def sweep(deps: Deps) -> dict[str, int]:
    """Flush what missed its grouped flush; resend messages whose retry task was lost."""
    now = deps.now()
    with deps.engine.connect() as conn:
        # A route may wait longer than [alerts] group_wait_s before its flush: not lost until the longest.
        longest_wait_s = max(route.group_wait_s for route in deps.routes.walk())
        due = outbox.receivers_with_pending(conn, now - timedelta(seconds=longest_wait_s + 10))
        stalled = outbox.stalled_messages(conn, now - STALLED_AFTER)
    for receiver in due:
        send_notify(deps.publish, destination_by_name(deps, receiver))
    for receiver, key in stalled:
        with deps.engine.begin() as conn:
            outbox.touch_message(conn, key, now)
        send_notify(deps.publish, destination_by_name(deps, receiver), message_key=key)
    if due or stalled:
        log_event(logger, logging.WARNING, "notify.swept", receivers=",".join(due) or "-", stalled=len(stalled))
    return {"flushed": len(due), "stalled": len(stalled)}
