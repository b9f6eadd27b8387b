"""The intake's request totals: counted in memory, written once a second with the rejections, and
kept for the next write when one fails, so the counters /metrics exports never lose a count to a
database outage and never go down."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from sqlalchemy.exc import OperationalError

from relops.intake.rejection_log import RejectionLog
from relops.intake.request_totals import RequestTotals


class Recording:
    """An engine whose transactions record what was executed, or fail while ``down``."""

    def __init__(self) -> None:
        self.down = False
        self.statements: list[tuple[str, dict[str, Any]]] = []

    @contextmanager
    def begin(self):
        if self.down:
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        yield self

    def execute(self, statement: Any, params: Any = None) -> None:
        self.statements.append((str(statement), params))


def written(engine: Recording) -> dict[tuple[str, int], int]:
    totals: dict[tuple[str, int], int] = {}
    for sql, params in engine.statements:
        if "ops_intake_totals" in sql:
            for endpoint, status, count in zip(params["endpoints"], params["statuses"], params["counts"], strict=True):
                totals[(endpoint, status)] = totals.get((endpoint, status), 0) + count
    return totals


def test_counts_are_taken_once_and_given_back_after_a_failed_write():
    totals = RequestTotals()
    for _ in range(3):
        totals.count("cron", 202)
    totals.count("ping", 401)
    engine = Recording()
    log = RejectionLog(engine, totals=totals)  # type: ignore[arg-type]

    engine.down = True
    log.flush()
    totals.count("cron", 202)
    engine.down = False
    log.flush()
    assert written(engine) == {("cron", 202): 4, ("ping", 401): 1}
    log.flush()  # nothing new: nothing written twice
    assert written(engine) == {("cron", 202): 4, ("ping", 401): 1}
    assert totals.take() == {}
