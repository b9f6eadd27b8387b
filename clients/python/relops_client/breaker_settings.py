"""Every breaker setting, its default and its bounds, declared once, and the state machine's rules
made from them. Pure (no Redis): relops' config model is built from these fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, get_args, get_type_hints

from relops_client.breaker_machine import BreakerRules


@dataclass(frozen=True, slots=True)
class Bounds:
    """The values one breaker setting accepts: at least ``ge``, more than ``gt``, at most ``le``
    (None: no such bound). relops' config model checks [breakers.NAME] with the same bounds."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None

    def limits(self) -> dict[str, float]:
        """The bounds that are set, by name (ge, gt, le), as pydantic's Field() takes them."""
        return {name: value for name in ("ge", "gt", "le") if (value := getattr(self, name)) is not None}

    def problem(self, value: float) -> str | None:
        """Why ``value`` is out of bounds, or None."""
        if self.ge is not None and value < self.ge:
            return f">= {self.ge}"
        if self.gt is not None and value <= self.gt:
            return f"> {self.gt}"
        if self.le is not None and value > self.le:
            return f"<= {self.le}"
        return None


def _setting(
    default: float | None,
    description: str,
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
) -> Any:
    """A BreakerSettings field: its default, and its description and bounds in the field's metadata
    (relops' configuration reference prints both)."""
    return field(default=default, metadata={"bounds": Bounds(ge, gt, le), "description": description})


@dataclass(frozen=True, slots=True)
class BreakerSettings:
    """One dependency's breaker: when it opens and how it recovers. The one declaration of every
    breaker setting, its default and its bounds: relops' [breakers.NAME] config section is made from
    these fields (relops.config.models), and the state machine's rules from machine_rules(). Every
    process guarding a dependency must use the same values, since they share its state."""

    failure_threshold: int = _setting(
        5,
        "Consecutive failures that open the breaker (count mode: used unless `failure_rate` is set).",
        ge=1,
        le=10_000,
    )
    failure_rate: float | None = _setting(
        None,
        "Rate mode: the failure rate over `window_s` (e.g. 0.5) that opens it once `min_calls` calls were seen; "
        "unset: count mode.",
        gt=0,
        le=1,
    )
    window_s: float = _setting(60, "The window `failure_rate` is taken over.", gt=0, le=3600)
    min_calls: int = _setting(20, "Calls within `window_s` before `failure_rate` applies.", ge=1, le=10**9)
    latency_threshold_ms: float | None = _setting(
        None, "A call slower than this counts as a failure even when it succeeded; unset: no latency rule.", gt=0
    )
    open_s: float = _setting(30, "How long OPEN fails fast before trial calls are let through.", gt=0, le=86400)
    half_open_probes: int = _setting(
        1,
        "Trial calls HALF_OPEN admits across every process together; that many successes close it, one failure "
        "reopens it.",
        ge=1,
        le=1000,
    )
    probe_lease_s: float = _setting(
        30, "A trial call that never reports back frees its permit after this long.", gt=0, le=3600
    )
    refresh_s: float = _setting(
        1.0,
        "How long a process trusts its last view of the shared state before asking Redis again: the cost per call "
        "in CLOSED is one Redis round trip per this interval, and a process may keep calling for up to this long "
        "after another process opened the breaker. 0: every call asks Redis.",
        ge=0,
        le=60,
    )

    def __post_init__(self) -> None:
        for setting in fields(self):
            value = getattr(self, setting.name)
            kind = SETTING_TYPES[setting.name]
            if value is None and type(None) in get_args(kind):
                continue
            whole = kind is int
            if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
                raise ValueError(f"{setting.name} must be a {'whole number' if whole else 'number'}, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"{setting.name} must be a finite number, got {value!r}")
            problem = setting.metadata["bounds"].problem(value)
            if problem is not None:
                raise ValueError(f"{setting.name} must be {problem}, got {value!r}")


#: Each setting's type (int, float, or float | None), resolved from BreakerSettings' annotations.
SETTING_TYPES: dict[str, Any] = get_type_hints(BreakerSettings)


def machine_rules(settings: BreakerSettings) -> BreakerRules:
    """The state machine's rules for ``settings``: the same values, durations in whole milliseconds.
    relops' config model of a breaker has the same fields and may be passed as well."""
    return BreakerRules(
        failure_threshold=settings.failure_threshold,
        failure_rate=settings.failure_rate,
        window_ms=int(settings.window_s * 1000),
        min_calls=settings.min_calls,
        open_ms=int(settings.open_s * 1000),
        probes=settings.half_open_probes,
        lease_ms=int(settings.probe_lease_s * 1000),
    )
