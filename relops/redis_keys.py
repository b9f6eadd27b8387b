"""Every Redis key relops writes, in one place: nobody spells a key by hand twice.

The broker's own keys (queues, unacked messages) belong to kombu and are not listed here.
"""

from __future__ import annotations

from typing import Final

from relops_client.breakers import breaker_keys

PREFIX: Final = "relops:"


def dedup(receiver: str, dedup_key: str) -> str:
    """Hash {rank, suppressed}: the notification window of one dedup key at one receiver."""
    return f"{PREFIX}dedup:{receiver}:{dedup_key}"


def group_timer(receiver: str) -> str:
    """Set while a grouped flush of the receiver's pending notifications is scheduled."""
    return f"{PREFIX}group:{receiver}"


def recent_flush(receiver: str) -> str:
    """Set while a receiver's group is recent: alerts still arriving are flushed sooner."""
    return f"{PREFIX}group:{receiver}:flushed"


def rate_limit(destination: str) -> str:
    """Hash {tokens, ts, blocked_until}: the token bucket shared by every worker sending there."""
    return f"{PREFIX}ratelimit:{destination}"


def delivered_parts(receiver: str, message_key: str) -> str:
    """Set (expiring) of the digests of a receiver's destinations that took one message (an Apprise
    receiver's several URLs): a retry, in whichever worker process, sends only to the others."""
    return f"{PREFIX}delivered-parts:{receiver}:{message_key}"


def cron_heartbeat() -> str:
    """Epoch seconds of the last cron health check: a long gap means relops itself was down."""
    return f"{PREFIX}cron:last-check"


def task_faults() -> str:
    """Hash {retry:<task>, failure:<task>}: retries and final failures per task, for status."""
    return f"{PREFIX}task-faults"


def login_failures(scope: str, value: str) -> str:
    """Failed sign-ins counted in the current window, per client address or per (hashed) user name."""
    return f"{PREFIX}login-failures:{scope}:{value}"


def metrics_scrapes() -> str:
    """Hash {metrics key name: scrapes}: how often each metrics key read /metrics (a counter per key
    instead of an audit row per scrape)."""
    return f"{PREFIX}metrics:scrapes"


def sli_source(flow: str) -> str:
    """Hash {pulled_until, backfill_until, backfill_from, last_success, failing_since, last_error}: how
    far a Prometheus-sourced flow's counts have been pulled, and whether its source answers. Lost, it
    costs a backfill again (a pull overwrites, so nothing is counted twice)."""
    return f"{PREFIX}sli-source:{flow}"


def sli_pull_lock() -> str:
    """Set while a relops.pull_sli_sources runs (expiring): the next one skips rather than joins it."""
    return f"{PREFIX}sli-pull:lock"


def breaker(dependency: str) -> tuple[str, str, str]:
    """(state hash, probe leases zset, rate buckets hash) of one dependency's circuit breaker; the
    client (relops_client.breakers) defines them, since services guard calls too."""
    return breaker_keys(dependency)


def intake_quota(key_id: int) -> str:
    """Hash {tokens, ts}: one report key's rate limit, shared by every intake process."""
    return f"{PREFIX}intake:quota:{key_id}"


def slack_click(digest: str) -> str:
    """Set (expiring) once a Slack button click was acted on: a replay of its signed request finds it.
    The intake writes it, so it lives under the intake's own prefix (its Redis user's, in compose)."""
    return f"{PREFIX}intake:slack-click:{digest}"


def open_run(job: str) -> str:
    """ "<run id> <start epoch ms>" of a job's run started by a ping without a run id, until its end."""
    return f"{PREFIX}intake:open-run:{job}"
