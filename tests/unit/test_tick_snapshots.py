"""Which tick writes a minute's snapshots: exactly one of the minute's ticks, its last."""

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from relops.slo.pipeline import last_of_its_minute
from relops.timeutil import floor_minute, floor_to_interval

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_a_20_s_tick_writes_from_the_minutes_third_tick():
    assert [last_of_its_minute(T0 + timedelta(seconds=s), 20) for s in (0, 20, 40, 60)] == [False, False, True, False]
    assert last_of_its_minute(T0, 60) and last_of_its_minute(T0, 300)


@given(interval_s=st.integers(10, 3600), start_s=st.integers(0, 86400))
def test_every_minute_with_a_tick_gets_its_snapshots_exactly_once(interval_s, start_s):
    first = floor_to_interval(T0 + timedelta(seconds=start_s), interval_s)
    slots = [first + timedelta(seconds=interval_s * i) for i in range(200)]
    writers = Counter(floor_minute(slot) for slot in slots if last_of_its_minute(slot, interval_s))
    # Every minute a tick falls in has exactly one writer (the run's last minute may lack its own).
    minutes = {floor_minute(slot) for slot in slots if floor_minute(slot) < floor_minute(slots[-1])}
    assert all(writers[minute] == 1 for minute in minutes)
