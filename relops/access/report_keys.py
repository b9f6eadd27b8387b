"""Report keys: what a key may report, decided without I/O.

A report key can only send (outcomes, cron runs, Alertmanager's alerts), never read: it is a different credential from a
dashboard user's token, in a different table, and no reading endpoint accepts it. Its scopes say
what it may send; its flow and job lists, when set, narrow that to those names.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

#: Shaped like relops' other credentials (rl?_…), so log redaction masks it wherever it appears.
KEY_PREFIX: Final = "rlk_"
Scope = Literal["outcomes", "cron", "alerts"]
SCOPES: Final[tuple[Scope, ...]] = ("outcomes", "cron", "alerts")
#: Default per-key rate limit (requests per second, and the burst a quiet key may send at once).
DEFAULT_RATE_PER_S: Final = 100.0
DEFAULT_BURST: Final = 500


def new_key() -> str:
    """256 random bits: a SHA-256 of the key needs no salt or slow hash (nothing to guess)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(text: str) -> tuple[Scope, ...]:
    """ "outcomes,cron" → ("outcomes", "cron"); raises ValueError naming an unknown scope."""
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in SCOPES]
    if unknown or not chosen:
        raise ValueError(f"scopes are a comma-separated list of {', '.join(SCOPES)}; got {text!r}")
    return tuple(scope for scope in SCOPES if scope in chosen)


@dataclass(frozen=True, slots=True)
class ReportKey:
    """A live (unrevoked) key as the intake knows it; the key itself is never kept, only its hash."""

    id: int
    name: str
    scopes: frozenset[str]
    #: None: every flow (jobs: every job); otherwise only these.
    flows: frozenset[str] | None
    jobs: frozenset[str] | None
    rate_per_s: float
    burst: int


def refusal(key: ReportKey, scope: Scope, subjects: Iterable[str]) -> str | None:
    """Why ``key`` may not report ``subjects`` (flows or jobs) under ``scope``; None when it may."""
    if scope not in key.scopes:
        return f"key {key.name!r} has no {scope} scope (it has: {', '.join(sorted(key.scopes)) or 'none'})"
    if scope == "alerts":
        return None  # flow and job lists narrow outcomes and cron runs; an Alertmanager's alerts name neither
    allowed = key.flows if scope == "outcomes" else key.jobs
    if allowed is None:
        return None
    for subject in sorted(subjects):  # the first refused in order, whatever order they came in
        if subject not in allowed:
            kind = "flow" if scope == "outcomes" else "job"
            return f"key {key.name!r} may not report {kind} {subject!r}"
    return None
