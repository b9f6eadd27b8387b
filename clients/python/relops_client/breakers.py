"""Circuit breakers for callers: a local view of the shared state, refreshed from Redis.

Cost per call in CLOSED: no Redis round trip while the local view is fresh (``refresh_s``) and
nothing failed; one round trip per refresh interval, and one per failure. OPEN fails fast from
the local view without touching Redis. HALF_OPEN asks Redis for every call (probe permits are
shared). The trade: a process may keep calling for up to ``refresh_s`` after another process
opened the breaker (README, "Dependency circuit breakers").

If Redis cannot be reached the breaker lets calls through (CLOSED, as the design chose) and says
so once a minute; a Redis error never reaches the caller.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from relops_client.breaker_machine import BreakerRules, Decision, State
from relops_client.breaker_settings import BreakerSettings, machine_rules
from relops_client.environment import config_path
from relops_client.environment import redis_url as configured_redis_url
from relops_client.errors import DegradedError
from relops_client.logs import log_event
from relops_client.names import DEFAULT_BREAKERS
from relops_client.redis_connect import redis_from_url
from relops_client.redis_scripts import REDIS_FAULTS, run_script

logger = logging.getLogger(__name__)
#: The shared state machine (breaker_machine.py is its readable specification).
SCRIPT = Path(__file__).with_name("breaker.lua")
F = TypeVar("F", bound=Callable[..., Any])
#: (dependency, from, to, at epoch ms) for each transition this process made happen.
TransitionListener = Callable[[str, State, State, int], None]
OFFLINE_LOG_INTERVAL_S = 60.0
_MISSING: Any = object()
_listeners: list[TransitionListener] = []


def script_args(rules: BreakerRules) -> list[object]:
    """``rules`` as breaker.lua takes them (its ARGV[3..9], in that order)."""
    return [
        rules.failure_threshold,
        "" if rules.failure_rate is None else rules.failure_rate,
        rules.window_ms,
        rules.min_calls,
        rules.open_ms,
        rules.probes,
        rules.lease_ms,
    ]


def breaker_keys(dependency: str) -> tuple[str, str, str]:
    """(state hash, probe leases zset, rate buckets hash) of one dependency's breaker in Redis
    (relops.redis_keys lists them with relops' other keys)."""
    base = f"relops:breaker:{dependency}"
    return base, f"{base}:leases", f"{base}:buckets"


def add_transition_listener(listener: TransitionListener) -> None:
    """Called once per transition, in the one process whose call made it (relops workers alert)."""
    _listeners.append(listener)


@dataclass(frozen=True, slots=True)
class Ticket:
    """Permission for one call: the generation it was admitted under, and its probe lease."""

    generation: int
    lease: str = ""
    #: Redis was unreachable: the call goes ahead and its outcome is not reported.
    offline: bool = False


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        settings: Any,
        redis_client: Callable[[], Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.settings = settings
        self._script_rules = script_args(machine_rules(settings))
        self._redis = redis_client
        self._clock = clock
        self._keys = list(breaker_keys(name))
        self._lock = threading.Lock()
        self._state = State.CLOSED
        self._generation = 0
        self._failures = 0
        self._open_until = 0.0  # local clock
        self._fetched_at = float("-inf")
        self._pending_ok = 0
        self._flushed_at = clock()
        self._offline_logged_at = float("-inf")

    # the shared state

    def _call(self, op: str, *args: object) -> list[Any] | None:
        try:
            reply = run_script(self._redis(), SCRIPT, self._keys, [op, "", *self._script_rules, *args])
        except REDIS_FAULTS as exc:
            now = self._clock()
            if now - self._offline_logged_at >= OFFLINE_LOG_INTERVAL_S:
                self._offline_logged_at = now
                log_event(
                    logger,
                    logging.WARNING,
                    "breaker.redis_unreachable",
                    dependency=self.name,
                    reason="letting calls through (CLOSED)",
                    error=type(exc).__name__,
                )
            return None
        decision, state, generation, failures, open_until, now_ms, from_, to = reply
        now = self._clock()
        with self._lock:
            self._state = State(_text(state))
            self._generation = int(generation)
            self._failures = int(failures)
            self._open_until = now + max(0, int(open_until) - int(now_ms)) / 1000
            self._fetched_at = now
        if _text(from_):
            for listener in _listeners:
                try:
                    listener(self.name, State(_text(from_)), State(_text(to)), int(now_ms))
                except Exception as exc:  # a listener's fault must not break the guarded call
                    log_event(
                        logger,
                        logging.ERROR,
                        "breaker.listener_failed",
                        dependency=self.name,
                        error=f"{type(exc).__name__}: {exc}",
                    )
        return [_text(decision)]

    # calls

    def admit(self) -> Ticket | None:
        """A ticket to make the call, or None to fail fast."""
        now = self._clock()
        with self._lock:
            fresh = now - self._fetched_at < self.settings.refresh_s
            if self._state is State.OPEN and now < self._open_until:
                return None
            if fresh and self._state is State.CLOSED:
                return Ticket(self._generation)
        lease = uuid.uuid4().hex
        reply = self._call("acquire", lease)
        if reply is None:
            return Ticket(-1, offline=True)
        decision = Decision(reply[0])
        if decision is Decision.REJECT:
            return None
        return Ticket(self._generation, lease if decision is Decision.PROBE else "")

    def record(self, ticket: Ticket, ok: bool) -> None:
        """Report a call's outcome. Successes in CLOSED are batched; failures go at once."""
        if ticket.offline:
            return
        if ticket.lease:
            self._call("report", ticket.generation, int(ok), int(not ok), ticket.lease)
            return
        now = self._clock()
        with self._lock:
            if ok:
                if self.settings.failure_rate is None and self._failures == 0:
                    return  # a success cannot change a streak of zero
                self._pending_ok += 1
                if self.settings.failure_rate is not None and now - self._flushed_at < self.settings.refresh_s:
                    return
            successes, self._pending_ok, self._flushed_at = self._pending_ok, 0, now
        self._call("report", ticket.generation, successes, int(not ok), "")

    def seconds_until_trial(self) -> float:
        with self._lock:
            return max(0.0, self._open_until - self._clock())

    def is_degraded(self) -> bool:
        """True while the shared state is not CLOSED (refreshed from Redis when the view is stale)."""
        now = self._clock()
        with self._lock:
            fresh = now - self._fetched_at < self.settings.refresh_s
            state = self._state
        if fresh:
            return state is not State.CLOSED
        try:
            raw = self._redis().hmget(self._keys[0], "state", "generation", "failures")
        except REDIS_FAULTS:
            return False
        with self._lock:
            # A breaker that never opened has no state field (or no hash at all): it is CLOSED.
            self._state = State(_text(raw[0])) if raw[0] is not None else State.CLOSED
            self._generation = int(raw[1] or 0)
            self._failures = int(raw[2] or 0)
            self._fetched_at = now
            return self._state is not State.CLOSED

    @contextmanager
    def _guarded(self, failures: tuple[type[BaseException], ...]) -> Iterator[None]:
        ticket = self.admit()
        if ticket is None:
            raise DegradedError(self.name, self.seconds_until_trial())
        started = time.perf_counter()
        try:
            yield
        except failures:
            self.record(ticket, ok=False)
            raise
        except BaseException:
            # Not a dependency failure (a bug or a business error): the dependency answered.
            self.record(ticket, ok=True)
            raise
        slow = self.settings.latency_threshold_ms is not None and (
            (time.perf_counter() - started) * 1000 > self.settings.latency_threshold_ms
        )
        self.record(ticket, ok=not slow)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class BreakerRegistry:
    """One CircuitBreaker per configured dependency, built on first use and kept for the process."""

    def __init__(self, settings: Mapping[str, Any], redis_client: Callable[[], Any]) -> None:
        """``settings``: a BreakerSettings (or relops' config model of it) per dependency name."""
        self._settings = dict(settings)
        self._redis = redis_client
        self._breakers: dict[str, CircuitBreaker] = {}
        self._lock = threading.Lock()

    def get(self, dependency: str) -> CircuitBreaker:
        """The breaker of a configured dependency. An unknown name is a typo and raises KeyError."""
        with self._lock:
            breaker = self._breakers.get(dependency)
            if breaker is None:
                if dependency not in self._settings:
                    configured = ", ".join(sorted(self._settings))
                    raise KeyError(f"unknown dependency {dependency!r}; configured: {configured}")
                breaker = self._breakers[dependency] = CircuitBreaker(
                    dependency, self._settings[dependency], self._redis
                )
            return breaker

    def states(self) -> dict[str, dict[str, Any]]:
        """Every configured breaker's shared state, in one Redis round trip (dashboard, status)."""
        names = sorted(self._settings)
        try:
            pipe = self._redis().pipeline(transaction=False)
            for name in names:
                pipe.hgetall(breaker_keys(name)[0])
            replies = pipe.execute()
        except REDIS_FAULTS:
            return {name: {"state": "unknown", "reason": "redis unreachable"} for name in names}
        states = {}
        for name, raw in zip(names, replies, strict=True):
            fields = {_text(k): _text(v) for k, v in raw.items()}
            states[name] = {
                "state": fields.get("state", "closed"),
                "generation": int(fields.get("generation", 0)),
                "failures": int(fields.get("failures", 0)),
                "last_failure_ms": int(fields["last_failure"]) if "last_failure" in fields else None,
                "last_transition_ms": int(fields["last_transition"]) if "last_transition" in fields else None,
                "open_until_ms": int(fields.get("open_until", 0)) or None,
            }
        return states


_process_registry: BreakerRegistry | None = None
_registry_lock = threading.Lock()
#: Builds this process's registry on first use; relops' own processes install theirs (from the
#: validated config file) with use_registry().
_registry_factory: Callable[[], BreakerRegistry] | None = None


def use_registry(factory: Callable[[], BreakerRegistry] | None) -> None:
    """Build this process's breakers with ``factory`` from now on (None: from the environment)."""
    global _registry_factory, _process_registry
    with _registry_lock:
        _registry_factory, _process_registry = factory, None


def configure(settings: Mapping[str, BreakerSettings], redis_url: str | None = None) -> None:
    """Guard these dependencies, sharing their state through ``redis_url`` (default REDIS_URL).
    Without a call, the breakers come from the relops config file (RELOPS_CONFIG), if any."""
    client = redis_from_url(redis_url or configured_redis_url(), socket_timeout=2, socket_connect_timeout=2)
    registry = BreakerRegistry(settings, lambda: client)
    use_registry(lambda: registry)


def settings_from_config(path: str) -> dict[str, BreakerSettings]:
    """The default dependencies, tuned or extended by the [breakers.NAME] tables of relops' config
    file at ``path`` (read with the standard library; relops itself validates the whole file)."""
    import tomllib

    found: dict[str, BreakerSettings] = {name: BreakerSettings() for name in DEFAULT_BREAKERS}
    try:
        with open(path, "rb") as handle:
            tables = tomllib.load(handle).get("breakers", {})
    except FileNotFoundError:
        return found
    known = set(BreakerSettings.__dataclass_fields__)
    for name, table in tables.items():
        values = {key: value for key, value in table.items() if key in known}  # labels etc. are relops'
        found[name] = BreakerSettings(**values)
    return found


def _from_environment() -> BreakerRegistry:
    client = redis_from_url(configured_redis_url(), socket_timeout=2, socket_connect_timeout=2)
    return BreakerRegistry(settings_from_config(config_path()), lambda: client)


def process_breakers() -> BreakerRegistry:
    """The breakers of this process: as configured by use_registry() or configure(), else from the
    environment (REDIS_URL and the relops config file)."""
    global _process_registry
    with _registry_lock:
        if _process_registry is None:
            _process_registry = (_registry_factory or _from_environment)()
        return _process_registry


def reset_breakers() -> None:
    """Forget local views (after a fork, or when the config changes)."""
    global _process_registry
    with _registry_lock:
        _process_registry = None


def get_breaker(dependency: str) -> CircuitBreaker:
    """The process-wide breaker of a configured dependency: relops' own (names.DEFAULT_BREAKERS) and
    those of [breakers.NAME] or configure(). An unknown name is a typo and raises KeyError."""
    return process_breakers().get(dependency)


def is_degraded(dependency: str) -> bool:
    return get_breaker(dependency).is_degraded()


def breaker_states() -> dict[str, dict[str, Any]]:
    """Every configured breaker's shared state, in one Redis round trip (dashboard, status)."""
    return process_breakers().states()


class guard:  # lower case: used as a decorator and a context manager, like contextlib's
    """Run calls to ``dependency`` through its breaker.

    As a decorator: when the breaker is open, return ``fallback`` (called with the function's
    arguments if callable) or raise DegradedError when none is given. As a context manager: raise
    DegradedError when open. Exceptions of the types in ``failures`` (default: every Exception)
    count as failures; others pass through and count as the dependency having answered.
    """

    def __init__(
        self,
        dependency: str,
        fallback: Any = _MISSING,
        failures: tuple[type[BaseException], ...] = (Exception,),
    ) -> None:
        self.breaker = get_breaker(dependency)
        self.fallback = fallback
        self.failures = failures
        # One guard may be entered by several threads at once (a module-level ``with POSTGRES:``):
        # each thread keeps its own stack of active calls, so an outcome is reported for its own call.
        self._local = threading.local()

    def _active(self) -> list[Any]:
        stack = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def __enter__(self) -> guard:
        context = self.breaker._guarded(self.failures)
        context.__enter__()
        self._active().append(context)
        return self

    def __exit__(self, *exc_info: Any) -> bool | None:
        return self._active().pop().__exit__(*exc_info)

    def __call__(self, function: F) -> F:
        @functools.wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                with self.breaker._guarded(self.failures):
                    return function(*args, **kwargs)
            except DegradedError:
                if self.fallback is _MISSING:
                    raise
                return self.fallback(*args, **kwargs) if callable(self.fallback) else self.fallback

        return guarded  # type: ignore[return-value]
