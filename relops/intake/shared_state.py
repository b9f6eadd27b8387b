"""What the intake keeps in Redis for a group of requests, in one round trip (group_state.lua
beside this file): each report key's rate limit, then the pairing of cron pings that carry no run id.

A start without a run id gets a new one, remembered for its job; the job's next end without a run id
takes it (and the time since the start, as the run's duration). Both fail open: with Redis
unreachable, requests are not rate limited and unpaired ends get a run id of their own; each such
fallback is counted and logged.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import redis
from relops_client.logs import log_event
from relops_client.redis_scripts import REDIS_FAULTS

from relops import redis_keys
from relops.access.report_keys import ReportKey

logger = logging.getLogger(__name__)
SCRIPT = Path(__file__).with_name("group_state.lua")


@dataclass(frozen=True, slots=True)
class Quota:
    granted: int
    #: Seconds until the key has a token again (what a refused request is told to wait).
    retry_after_s: int


@dataclass(slots=True)
class UnpairedPing:
    """A cron ping with no run id; :meth:`SharedState.settle` fills in the rest."""

    job: str
    starts: bool
    key_id: int
    #: Its place among its key's requests in the group (1 = first): it is allowed if the key's
    #: granted tokens reach it.
    rank: int
    run_id: str = ""
    #: For an end paired with its start: milliseconds since that start (Redis' clock).
    elapsed_ms: int | None = None


class SharedState:
    def __init__(self, client: redis.Redis, *, open_run_ttl_s: int) -> None:
        self._client = client
        self.open_run_ttl_s = open_run_ttl_s
        self._script = client.register_script(SCRIPT.read_text())
        self.fallbacks: Counter[str] = Counter()
        self._last_fault_log = float("-inf")

    def settle(self, wanted: dict[int, tuple[ReportKey, int]], pings: Sequence[UnpairedPing]) -> dict[int, Quota]:
        """Tokens per key id for ``wanted`` {key id: (key, requests)}, and run ids for ``pings`` (in
        arrival order). With Redis unreachable: every request granted, and every ping a run of its own."""
        for ping in pings:
            if ping.starts:
                ping.run_id = uuid.uuid4().hex
        if not wanted:
            return {}
        order = list(wanted)
        index = {key_id: position + 1 for position, key_id in enumerate(order)}
        quota_args = [[wanted[key_id][0].rate_per_s, wanted[key_id][0].burst, wanted[key_id][1]] for key_id in order]
        ping_args = [
            [index[ping.key_id], ping.rank, ping.run_id if ping.starts else "", redis_keys.open_run(ping.job)]
            for ping in pings
        ]
        keys = [redis_keys.intake_quota(key_id) for key_id in order]
        args = [self.open_run_ttl_s, json.dumps(quota_args), json.dumps(ping_args)]
        try:
            reply = self._script(keys=keys, args=args)
        except REDIS_FAULTS as exc:
            self._fell_back("redis", exc, sum(count for _, count in wanted.values()))
            for ping in pings:
                if not ping.starts:
                    ping.run_id = uuid.uuid4().hex
            return {key_id: Quota(count, 0) for key_id, (_, count) in wanted.items()}
        quotas = {
            key_id: Quota(int(reply[2 * i]), max(1, math.ceil(int(reply[2 * i + 1]) / 1000)))
            for i, key_id in enumerate(order)
        }
        for ping, answer in zip(pings, reply[2 * len(order) :], strict=True):
            if ping.starts:
                continue
            text = answer.decode() if isinstance(answer, bytes) else str(answer)
            run_id, _, elapsed = text.partition(" ")
            ping.run_id = run_id or uuid.uuid4().hex  # an end with no start seen: a run of its own
            ping.elapsed_ms = int(elapsed) if run_id and elapsed.isdigit() else None
        return quotas

    def unpair(self, pings: Sequence[UnpairedPing]) -> None:
        """Undo :meth:`settle`'s pairing for pings that were not handed to the broker, so the client's
        retry pairs the same way: ends give their start back; starts are forgotten."""
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for ping in pings:
                    key = redis_keys.open_run(ping.job)
                    if ping.starts:
                        pipe.delete(key)
                    elif ping.elapsed_ms is not None:
                        started_ms = int(time.time() * 1000) - ping.elapsed_ms
                        pipe.set(key, f"{ping.run_id} {started_ms}", ex=self.open_run_ttl_s, nx=True)
                pipe.execute()
        except REDIS_FAULTS as exc:
            self._fell_back("unpair", exc, len(pings))

    def _fell_back(self, what: str, exc: BaseException, requests: int) -> None:
        """Counted always; logged at most every 10 s, so an outage is visible without a line per request."""
        self.fallbacks[what] += requests
        now = time.monotonic()
        if now - self._last_fault_log >= 10:
            self._last_fault_log = now
            log_event(
                logger,
                logging.ERROR,
                "intake.redis_unavailable",
                fallback=what,
                requests_affected=requests,
                total_fallbacks=dict(self.fallbacks),
                error=type(exc).__name__,
            )
