"""Report keys and metrics keys: what a key may do, decided without I/O.

A report key can only send (outcomes, cron runs, Alertmanager's alerts, OpenTelemetry spans), never
read: it is a different credential from a dashboard user's token, in a different table, and no
reading endpoint accepts it. Its scopes say what it may send; its flow and job lists, when set,
narrow that to those names.

A metrics key (scope ``metrics``, alone) is the scraper's credential: it reads the dashboard's
``GET /metrics`` and nothing else, and reports nothing. It lives in the same table so that it is
made, listed, revoked and audited like a report key, but the scopes never mix: a key that can
report cannot read, and the one that reads cannot report.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal

#: Shaped like relops' other credentials (rl?_…), so log redaction masks it wherever it appears.
KEY_PREFIX: Final = "rlk_"
#: What a report key may send.
Scope = Literal["outcomes", "cron", "alerts", "otlp"]
REPORT_SCOPES: Final[tuple[Scope, ...]] = ("outcomes", "cron", "alerts", "otlp")
#: The scope of a metrics key: reading the dashboard's /metrics, and nothing else.
METRICS_SCOPE: Final = "metrics"
KeyScope = Literal["outcomes", "cron", "alerts", "otlp", "metrics"]
SCOPES: Final[tuple[KeyScope, ...]] = (*REPORT_SCOPES, METRICS_SCOPE)
#: Default per-key rate limit (requests per second, and the burst a quiet key may send at once).
DEFAULT_RATE_PER_S: Final = 100.0
DEFAULT_BURST: Final = 500


def new_key() -> str:
    """256 random bits: a SHA-256 of the key needs no salt or slow hash (nothing to guess)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_scopes(text: str) -> tuple[KeyScope, ...]:
    """ "outcomes,cron" → ("outcomes", "cron"); "metrics" → ("metrics",). Raises ValueError naming an
    unknown scope, or ``metrics`` combined with a report scope."""
    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in SCOPES]
    if unknown or not chosen:
        raise ValueError(f"scopes are a comma-separated list of {', '.join(SCOPES)}; got {text!r}")
    if METRICS_SCOPE in chosen and len(set(chosen)) > 1:
        # One credential per kind: the scraper's key sits in Prometheus' config, a report key in a
        # service's; neither should grant what the other does.
        raise ValueError(
            f"{METRICS_SCOPE} cannot be combined with report scopes ({', '.join(REPORT_SCOPES)}): "
            "make one key to report and another to read /metrics"
        )
    return tuple(scope for scope in SCOPES if scope in chosen)


def metrics_refusal(name: str, scopes: Iterable[str]) -> str | None:
    """Why the live key ``name`` with ``scopes`` may not read /metrics; None when it may."""
    held = sorted(scopes)
    if METRICS_SCOPE in held:
        return None
    return (
        f"key {name!r} is a report key ({', '.join(held) or 'no scopes'}): reading /metrics takes a key "
        f"with the {METRICS_SCOPE} scope (relops keys add NAME --scope {METRICS_SCOPE})"
    )


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
        if METRICS_SCOPE in key.scopes:
            return f"key {key.name!r} is a metrics key: it reads /metrics on the dashboard and reports nothing"
        return f"key {key.name!r} has no {scope} scope (it has: {', '.join(sorted(key.scopes)) or 'none'})"
    if scope == "alerts":
        return None  # flow and job lists narrow outcomes and cron runs; an Alertmanager's alerts name neither
    # Spans count for flows: a key limited to some flows sends spans for those (the intake refuses
    # the spans it maps to others, and the subjects it is asked about here are flows).
    allowed = key.flows if scope in ("outcomes", "otlp") else key.jobs
    if allowed is None:
        return None
    for subject in sorted(subjects):  # the first refused in order, whatever order they came in
        if subject not in allowed:
            kind = "job" if scope == "cron" else "flow"
            return f"key {key.name!r} may not report {kind} {subject!r}"
    return None
