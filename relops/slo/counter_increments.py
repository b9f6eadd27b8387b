"""A flow's events per minute from counters' raw samples, exactly. Pure.

Prometheus' ``increase()`` and ``rate()`` extrapolate to the edges of their range, so the sum of a
counter's per-minute ``increase()`` is not its true increase. relops reads the raw samples instead
and adds up, per series, the difference between each sample and the one before it:

- the increase seen at a sample taken at ``t`` happened since the previous sample, and is counted in
  the minute that contains ``t``: with no scrape missed and events spread over the minute, each
  minute gets exactly the events its scrapes saw;
- a value below the one before is a counter reset (the process restarted): the counter began again
  at 0, so the increase is the new value (what happened between the last sample before the restart
  and the restart itself was never scraped, and is lost, as it is for Prometheus);
- a series' first sample is its baseline: what it counted before is not known, so nothing is
  counted for it (initialise labelled counters at 0, as client libraries advise, and no event is
  lost when a series first appears).

A minute in which no series of the ``total`` query has a sample is unknown (Prometheus was not
scraping: no data), not a minute without events.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

#: (unix seconds, value): one raw sample as Prometheus' API returns it.
Sample = tuple[float, float]


@dataclass(frozen=True, slots=True)
class MinuteIncrease:
    """The summed increase of a counter query's series in one minute."""

    #: The minute's start, in unix seconds (a multiple of 60).
    minute: int
    increase: float


def minute_of(timestamp: float) -> int:
    return int(timestamp // 60) * 60


def minute_increases(series: Iterable[Sequence[Sample]], first_minute: int, end_minute: int) -> dict[int, float]:
    """Minute start -> the summed increase of ``series`` (each sorted by time) in every minute of
    [``first_minute``, ``end_minute``) in which at least one series has a sample. Samples before
    ``first_minute`` serve as baselines only."""
    increases: dict[int, float] = defaultdict(float)
    for samples in series:
        previous: float | None = None
        for timestamp, value in samples:
            if math.isnan(value):
                continue  # not a count: skip it rather than poison the minute
            minute = minute_of(timestamp)
            if first_minute <= minute < end_minute:
                if previous is None:
                    increases[minute] += 0.0  # the series' baseline: the minute is known, nothing counted
                else:
                    increases[minute] += value - previous if value >= previous else value
            previous = value
    return dict(increases)


@dataclass(frozen=True, slots=True)
class FlowMinute:
    """A flow's good and bad events in one minute, from its counters."""

    minute: int
    good: int
    bad: int


def flow_minutes(total: Mapping[int, float], counted: Mapping[int, float], *, counts_good: bool) -> list[FlowMinute]:
    """Good and bad events for every minute ``total`` knows. ``counted`` is the good (``counts_good``)
    or the bad events; a minute it has no sample in counts 0 of them (a counter of errors often has
    no series until the first error). Counts are whole numbers; since the two queries' series are
    scraped at different moments, the counted events are held within the total."""
    minutes = []
    for minute in sorted(total):
        events = max(0, round(total[minute]))
        part = min(max(0, round(counted.get(minute, 0.0))), events)
        good, bad = (part, events - part) if counts_good else (events - part, part)
        minutes.append(FlowMinute(minute, good, bad))
    return minutes
