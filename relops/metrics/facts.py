"""The state one scrape reads, as plain values: each flow's latest evaluation, each job's and
breaker's health, the incidents, silences and outbox, and the totals that only go up. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple


# The two read per flow are named tuples: a scrape makes one FlowFacts and three WindowFacts for
# each of 10,000 flows, and a frozen dataclass costs several times a tuple to make.
class WindowFacts(NamedTuple):
    """One window of a flow's latest evaluation."""

    events: int
    errors: int
    #: None when the window had no events (no data is not a burn rate of 0).
    burn_rate: float | None


class FlowFacts(NamedTuple):
    """A flow's latest evaluation: the row the dashboard and `relops status` show."""

    #: The close of the minute the evaluation read (the end of its windows).
    evaluated_at: datetime
    severity: str
    budget_remaining: float | None
    #: The budget as it would be without corrections (equal to ``budget_remaining`` when none apply).
    budget_remaining_uncorrected: float | None
    period_events: int
    period_errors: int
    #: By window name; a window with no events is absent.
    windows: Mapping[str, WindowFacts]


@dataclass(frozen=True, slots=True)
class JobFacts:
    name: str
    state: str
    last_start: datetime | None
    last_success: datetime | None
    #: Of the newest finished run.
    last_duration_s: float | None
    consecutive_failures: int
    next_deadline: datetime | None


@dataclass(frozen=True, slots=True)
class IncidentCount:
    """Unresolved incidents of one status, severity and team."""

    status: str
    severity: str
    #: The incident's ``team`` label, "" without one.
    team: str
    count: int


@dataclass(frozen=True, slots=True)
class IntakeTotal:
    """The intake's requests of one endpoint and status since they were first counted."""

    endpoint: str
    status: int
    requests: int
    since: datetime


@dataclass(frozen=True)
class Facts:
    #: By flow name; a flow never evaluated with data is absent.
    flows: Mapping[str, FlowFacts] = field(default_factory=dict)
    jobs: Sequence[JobFacts] = ()
    #: By dependency: relops_client.breakers.BreakerRegistry.states().
    breakers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    incidents: Sequence[IncidentCount] = ()
    silences_active: int = 0
    silences_pending: int = 0
    #: (receiver, status) -> notifications owed and not delivered (pending or sending).
    notifications: Mapping[tuple[str, str], int] = field(default_factory=dict)
    #: receiver -> messages given up on, ever (dead letters are never pruned).
    dead_letters: Mapping[str, int] = field(default_factory=dict)
    intake: Sequence[IntakeTotal] = ()
    #: metrics key name -> scrapes it made (kept in Redis).
    scrapes: Mapping[str, int] = field(default_factory=dict)
    #: When the newest evaluation tick was claimed.
    last_tick_at: datetime | None = None
    #: Queue -> messages waiting on the broker; None when the broker was not asked or did not answer.
    queues: Mapping[str, int] | None = None
    #: Whether the broker answered the scrape's question; None when it was not asked.
    broker_answered: bool | None = None
