"""One scrape of /metrics: the state read now, turned into Prometheus' series.

``ScrapeCollector`` is a prometheus_client collector made for one request: its ``collect()`` reads
everything at that moment (the breakers and the scrape count from Redis, one pipeline each; the
queues' waiting messages from the broker; the rest from PostgreSQL in one read-only transaction, so
a scrape sees one moment) and yields the
families relops.metrics makes. Nothing is counted in the web process's memory: every `relops web`
process answers the same, however many there are and whichever one a scrape reaches.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime

from prometheus_client.metrics_core import Metric
from redis import Redis
from relops_client.breakers import BreakerRegistry
from relops_client.logs import log_event
from sqlalchemy import Engine

from relops import __version__
from relops.config import RelopsConfig
from relops.errors import BrokerError
from relops.metrics.facts import Facts
from relops.metrics.families import relops_families
from relops.metrics.sloth import sloth_families
from relops.state.scrapes import count_scrape
from relops.store.intake_totals import intake_totals
from relops.store.metrics import (
    dead_letter_counts,
    job_facts,
    last_tick_at,
    latest_flow_facts,
    silence_counts,
    undelivered_notifications,
    unresolved_incident_counts,
)

logger = logging.getLogger(__name__)

#: Reads the messages waiting in each relops queue (relops.broker.read_waiting_messages, bound to the
#: process's broker); raises BrokerError when the broker does not answer.
QueueReader = Callable[[], Mapping[str, int]]


def read_queues(read: QueueReader | None) -> tuple[Mapping[str, int] | None, bool | None]:
    """(the queues' waiting messages, whether the broker answered); (None, None) without a reader.
    A broker that does not answer is a series of 0 (relops_broker_up) and a log line, never a failed
    scrape: the rest of relops' state is still worth reading."""
    if read is None:
        return None, None
    try:
        return read(), True
    except BrokerError as exc:
        log_event(logger, logging.WARNING, "metrics.broker_unreadable", error=str(exc))
        return None, False


def read_facts(
    engine: Engine,
    client: Redis,
    config: RelopsConfig,
    breakers: BreakerRegistry,
    now: datetime,
    scraper: str | None = None,
    queues: QueueReader | None = None,
) -> Facts:
    """Everything a scrape exposes, read now. ``scraper``: the metrics key making the scrape, counted;
    ``queues``: how to read the broker's queues (not read without it)."""
    breaker_states = breakers.states()
    waiting, broker_answered = read_queues(queues)
    scrapes = count_scrape(client, scraper) if scraper is not None else {}
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        flows = latest_flow_facts(conn, [flow.name for flow in config.flows])
        jobs = job_facts(conn, [job.name for job in config.jobs])
        incidents = unresolved_incident_counts(conn)
        active, pending = silence_counts(conn, now)
        notifications = undelivered_notifications(conn)
        dead = dead_letter_counts(conn)
        intake = intake_totals(conn)
        tick = last_tick_at(conn)
    return Facts(
        flows=flows,
        jobs=jobs,
        breakers=breaker_states,
        incidents=incidents,
        silences_active=active,
        silences_pending=pending,
        notifications=notifications,
        dead_letters=dead,
        intake=intake,
        scrapes=scrapes,
        last_tick_at=tick,
        queues=waiting,
        broker_answered=broker_answered,
    )


def metric_families(config: RelopsConfig, facts: Facts, receivers: Iterable[str]) -> list[Metric]:
    """relops' own families, then Sloth's when the config asks for them."""
    families = relops_families(config, facts, receivers=receivers, version=__version__)
    if config.metrics.sloth_compatible:
        families += sloth_families(config, facts, version=__version__)
    return families


class ScrapeCollector:
    """The collector of one scrape (prometheus_client's Collector protocol: ``collect()``)."""

    def __init__(
        self,
        engine: Engine,
        client: Redis,
        config: RelopsConfig,
        breakers: BreakerRegistry,
        *,
        receivers: Sequence[str],
        clock: Callable[[], datetime],
        scraper: str | None = None,
        queues: QueueReader | None = None,
    ) -> None:
        self._engine = engine
        self._client = client
        self._config = config
        self._breakers = breakers
        self._receivers = receivers
        self._clock = clock
        self._scraper = scraper
        self._queues = queues

    def collect(self) -> Iterator[Metric]:
        # A scrape of 10,000 flows allocates some 150,000 samples and their label dicts, none in a
        # cycle: the cyclic collector's passes over them doubled the time to build them. It is paused
        # for the read and the build only (it is process-wide: another thread's garbage waits as long).
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            facts = read_facts(
                self._engine, self._client, self._config, self._breakers, self._clock(), self._scraper, self._queues
            )
            families = metric_families(self._config, facts, self._receivers)
        finally:
            if was_enabled:
                gc.enable()
        yield from families
