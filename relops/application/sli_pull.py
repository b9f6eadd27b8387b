"""relops.pull_sli_sources' logic: read each Prometheus-sourced flow's closed minutes from
Prometheus and set its minute counters to them (relops.slo.pull_plan says which minutes,
relops.slo.counter_increments how they are counted, relops.store.outcomes.replace_minutes how
they are written).

A flow's pull stops at its first failing query and starts there again next time; its progress is
saved after every span written, so nothing is read twice for nothing and nothing is skipped.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from relops_client.logs import log_event

from relops.alerting.events import publish_alert
from relops.application.deps import Deps
from relops.config import FlowConfig
from relops.config.sli_sources import PrometheusSource
from relops.slo.counter_increments import flow_minutes, minute_increases
from relops.slo.pull_plan import HOUR_S, PullState, Span, advance, plan_pull
from relops.slo.retention import horizons
from relops.slo.source_alerts import source_answering, source_unreachable
from relops.sources.prometheus import PrometheusReader, SourceUnavailable
from relops.state.sli_pulls import (
    claim_pull,
    load_pull,
    record_failure,
    record_success,
    release_pull,
    save_progress,
)
from relops.store.outcomes import lock_flow, replace_hour, replace_minutes

logger = logging.getLogger(__name__)

#: How far before a span's first minute its query reaches, for each series' sample before it (the
#: baseline of its first increase): several scrape intervals of the slowest usual scraper (1 min).
BASELINE_S = 300
#: How long one pull starts new queries for: half the task's soft time limit.
PULL_BUDGET_S = 45.0

#: A flow's source, or why it has none this time (its url_env unset).
ReaderFor = Callable[[PrometheusSource], "PrometheusReader | str"]


def _moment(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def read_span(reader: PrometheusReader, source: PrometheusSource, span: Span) -> list[tuple[int, int, int]]:
    """(minute start, good, bad) of every minute of ``span`` Prometheus has samples for."""
    seconds = span.end - span.start + BASELINE_S
    total = minute_increases(
        reader.raw_samples(source.total_query, end=span.end, seconds=seconds), span.start, span.end
    )
    counted = minute_increases(
        reader.raw_samples(source.counted_query, end=span.end, seconds=seconds), span.start, span.end
    )
    return [(m.minute, m.good, m.bad) for m in flow_minutes(total, counted, counts_good=source.counts_good)]


def write_span(deps: Deps, flow: str, minutes: list[tuple[int, int, int]], minute_horizon: datetime) -> None:
    """Set ``flow``'s counters for these minutes: the minute rows the minute table still keeps, and
    the hour rows of older minutes (their minutes are gone), each from all of that hour's minutes."""
    recent = [(_moment(m), good, bad) for m, good, bad in minutes if _moment(m) >= minute_horizon]
    older: dict[int, list[int]] = {}
    for minute, good, bad in minutes:
        if _moment(minute) < minute_horizon:
            sums = older.setdefault(minute // 3600 * 3600, [0, 0])
            sums[0] += good
            sums[1] += bad
    with deps.engine.begin() as conn:
        lock_flow(conn, flow)
        replace_minutes(conn, flow, recent)
        # The minute horizon is an hour boundary: an hour is either all minutes or all past them,
        # and pull_flow reads such an hour whole.
        for hour, (good, bad) in sorted(older.items()):
            replace_hour(conn, flow, _moment(hour), good, bad)


def pull_flow(
    deps: Deps,
    flow: FlowConfig,
    reader: PrometheusReader,
    now: datetime,
    deadline: float = math.inf,
    state: PullState | None = None,
) -> dict[str, Any]:
    """Pull what ``flow`` is owed now, starting no span after ``deadline`` (time.monotonic()); the
    rest waits for the next pull. SourceUnavailable when a query fails (what was read before it stays)."""
    source = flow.prometheus
    assert source is not None
    sources = deps.config.sources
    if state is None:
        state, _ = load_pull(deps.redis, flow.name)
    spans, state = plan_pull(
        state,
        now.timestamp(),
        settle_s=sources.settle_s,
        repull_minutes=sources.repull_minutes,
        period_s=flow.period_s,
        max_hours=sources.backfill_hours_per_pull,
    )
    minute_horizon = horizons(deps.config, now).minutes
    written = read = 0
    for span in spans:
        if time.monotonic() >= deadline:
            break
        read += 1
        if span.start < minute_horizon.timestamp():
            # Past the minute table only the hour row is kept, and it is set whole: read all of it.
            span = dataclasses.replace(span, start=span.start // HOUR_S * HOUR_S)
        minutes = read_span(reader, source, span)
        write_span(deps, flow.name, minutes, minute_horizon)
        written += len(minutes)
        state = advance(state, span)
        save_progress(deps.redis, flow.name, state)
    return {
        "spans": read,
        "minutes": written,
        "backfilling": state.backfill_until is not None,
        "behind": read < len(spans),
    }


def pull_sli_sources(deps: Deps, reader_for: ReaderFor) -> dict[str, Any]:
    """Pull every Prometheus-sourced flow; a flow whose source fails is noted and the others go on.
    A source failing for ``[sources] unreachable_after_s`` raises its WARNING at every pull (dedup
    keeps it to one notification) until it answers, which resolves it."""
    now = deps.now()
    threshold = deps.config.sources.unreachable_after_s
    # Well within the task's soft time limit: a pull that has more to read (a backfill, a catch-up
    # after an outage, many flows) stops starting spans here and the next one goes on from there.
    deadline = time.monotonic() + PULL_BUDGET_S
    if not claim_pull(deps.redis, round(PULL_BUDGET_S * 2)):
        log_event(logger, logging.INFO, "sli.pull_skipped", reason="another pull is running")
        return {"pulled": 0, "failed": 0, "skipped": True}
    try:
        return _pull_all(deps, reader_for, now, threshold, deadline)
    finally:
        release_pull(deps.redis)


def _pull_all(deps: Deps, reader_for: ReaderFor, now: datetime, threshold: int, deadline: float) -> dict[str, Any]:
    pulled, failed = 0, 0
    for flow in deps.config.flows:
        if flow.prometheus is None:
            continue
        state, health = load_pull(deps.redis, flow.name)
        reader = reader_for(flow.prometheus)
        runbook = deps.config.runbook_url(flow)
        try:
            if isinstance(reader, str):
                raise SourceUnavailable(reader)
            result = pull_flow(deps, flow, reader, now, deadline, state)
        except SourceUnavailable as exc:
            failed += 1
            since = record_failure(deps.redis, flow.name, now.timestamp(), str(exc))
            log_event(
                logger,
                logging.WARNING,
                "sli.source_failed",
                flow=flow.name,
                error=str(exc),
                failing_for_s=round(now.timestamp() - since),
            )
            if now.timestamp() - since >= threshold:
                publish_alert(deps.publish, source_unreachable(flow, str(exc), since, now.timestamp(), runbook))
            continue
        pulled += 1
        record_success(deps.redis, flow.name, now.timestamp())
        log_event(logger, logging.INFO, "sli.pulled", flow=flow.name, **result)
        since = health.failing_since
        if since is not None and now.timestamp() - since >= threshold:
            publish_alert(deps.publish, source_answering(flow, since, now.timestamp(), runbook))
    return {"pulled": pulled, "failed": failed}
