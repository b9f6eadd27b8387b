"""How far each Prometheus-sourced flow has been pulled, and since when its source has failed: one
Redis hash per flow (relops.redis_keys.sli_source). Every pull worker reads and writes it; a pull
holds the flow's counter lock in PostgreSQL while it writes, so two never interleave."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from relops import redis_keys
from relops.slo.pull_plan import PullState

_STATE_FIELDS = ("pulled_until", "backfill_until", "backfill_from")


@dataclass(frozen=True)
class SourceHealth:
    """Whether a flow's source answered its last pull."""

    #: Unix seconds of the last pull that read everything it planned; None: never.
    last_success: float | None = None
    #: Unix seconds since which every pull has failed; None: the last one worked.
    failing_since: float | None = None
    last_error: str = ""


def _number(raw: bytes | str | None) -> float | None:
    return None if raw in (None, b"", "") else float(raw)


def load_pull(client: Redis, flow: str) -> tuple[PullState, SourceHealth]:
    raw = client.hgetall(redis_keys.sli_source(flow))
    fields = {(k.decode() if isinstance(k, bytes) else k): v for k, v in raw.items()}
    state = PullState(
        **{name: (None if (v := _number(fields.get(name))) is None else int(v)) for name in _STATE_FIELDS}
    )
    error = fields.get("last_error", b"")
    health = SourceHealth(
        last_success=_number(fields.get("last_success")),
        failing_since=_number(fields.get("failing_since")),
        last_error=error.decode() if isinstance(error, bytes) else str(error),
    )
    return state, health


def save_progress(client: Redis, flow: str, state: PullState) -> None:
    """Record how far ``flow`` has been pulled (after each span written)."""
    values = {name: getattr(state, name) for name in _STATE_FIELDS}
    key = redis_keys.sli_source(flow)
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping={name: value for name, value in values.items() if value is not None})
        empty = [name for name, value in values.items() if value is None]
        if empty:
            pipe.hdel(key, *empty)
        pipe.execute()


def record_success(client: Redis, flow: str, now: float) -> None:
    key = redis_keys.sli_source(flow)
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(key, "last_success", now)
        pipe.hdel(key, "failing_since", "last_error")
        pipe.execute()


def record_failure(client: Redis, flow: str, now: float, error: str) -> float:
    """Note that ``flow``'s source failed now; returns since when it has been failing."""
    key = redis_keys.sli_source(flow)
    with client.pipeline(transaction=True) as pipe:
        pipe.hsetnx(key, "failing_since", now)
        pipe.hset(key, "last_error", error)
        pipe.hget(key, "failing_since")
        _, _, since = pipe.execute()
    return float(since)


def unreachable_flows(client: Redis, flows: list[str], now: float, after_s: int) -> set[str]:
    """Those of ``flows`` whose source has failed every pull for ``after_s`` or longer: evaluated as
    no data rather than from counts that stopped coming."""
    if not flows:
        return set()
    with client.pipeline(transaction=False) as pipe:
        for flow in flows:
            pipe.hget(redis_keys.sli_source(flow), "failing_since")
        answers = pipe.execute()
    return {flow for flow, since in zip(flows, answers, strict=True) if since and now - float(since) >= after_s}


def claim_pull(client: Redis, ttl_s: int) -> bool:
    """One pull at a time: beat sends one every pull_interval_s, and a long one (a backfill) must not
    be joined by the next reading the same flows. The claim expires on its own after ``ttl_s`` should
    its worker die."""
    return bool(client.set(redis_keys.sli_pull_lock(), "1", nx=True, ex=ttl_s))


def release_pull(client: Redis) -> None:
    client.delete(redis_keys.sli_pull_lock())
