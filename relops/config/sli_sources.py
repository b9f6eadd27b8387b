"""Where a flow's good and bad counts come from when not from the services that push them: a
Prometheus (``[[flows]] prometheus = {...}``), and how relops pulls from it (``[sources]``). Pure.

A flow with a source takes its counts from there alone: pushed outcomes for it are refused, since
two writers would count the same requests twice.
"""

from __future__ import annotations

import re
from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from relops.config.counter_query import EXAMPLE, CounterQuery, parse_counter_query

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}$")
DEFAULT_URL_ENV: Final = "PROMETHEUS_URL"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _counter(value: str | None) -> str | None:
    if value is not None:
        parse_counter_query(value)  # a ValueError says what form it must take
    return value


class PrometheusSource(_Strict):
    """A flow's events as counters in Prometheus: ``total`` and either ``good`` or ``bad``."""

    url_env: str = Field(
        DEFAULT_URL_ENV,
        description="The environment variable holding the Prometheus base URL (e.g. `http://prometheus:9090`); "
        "credentials in it (`https://user:password@…`) are sent as basic auth and never logged.",
    )
    good: str | None = Field(
        None,
        description=f"The good events: a counter selector, optionally summed, e.g. `{EXAMPLE}`. "
        "Give `good` or `bad`, not both.",
    )
    bad: str | None = Field(
        None, description='The bad events, e.g. `sum(http_requests_total{job="checkout",code=~"5.."})`.'
    )
    total: str = Field(
        description='Every event, good and bad, e.g. `sum(http_requests_total{job="checkout"})`.',
    )
    timeout_s: float = Field(10.0, ge=1, le=60, description="How long one query to Prometheus may take.")

    @field_validator("url_env")
    @classmethod
    def _env_name(cls, value: str) -> str:
        if not _ENV_NAME.match(value):
            raise ValueError(f"{value[:60]!r} is not an environment variable name (A-Z, 0-9, _)")
        return value

    @field_validator("good", "bad", "total")
    @classmethod
    def _counter_query(cls, value: str | None) -> str | None:
        return _counter(value)

    @model_validator(mode="after")
    def _good_or_bad(self) -> PrometheusSource:
        if (self.good is None) == (self.bad is None):
            raise ValueError("give `good` or `bad` (with `total`), exactly one of them")
        return self

    @property
    def total_query(self) -> CounterQuery:
        return parse_counter_query(self.total)

    @property
    def counted_query(self) -> CounterQuery:
        """The query of the events ``good`` or ``bad`` names (``counts_good`` says which)."""
        return parse_counter_query(self.good if self.good is not None else str(self.bad))

    @property
    def counts_good(self) -> bool:
        return self.good is not None


class SourcesConfig(_Strict):
    """How relops pulls the counts of flows with a source ([sources])."""

    pull_interval_s: int = Field(
        30, ge=5, le=600, description="How often beat sends relops.pull_sli_sources (on the `ingest` queue)."
    )
    settle_s: int = Field(
        30,
        ge=0,
        le=600,
        description="A minute is pulled once it closed this long ago, so that the scrapes that saw its last "
        "events are in Prometheus (at least a scrape interval).",
    )
    repull_minutes: int = Field(
        5,
        ge=0,
        le=60,
        description="Each pull reads again this many minutes before the last one pulled: a re-pull overwrites "
        "them (never adds), so samples that arrived late still count.",
    )
    backfill_hours_per_pull: int = Field(
        24,
        ge=1,
        le=720,
        description="A flow first seen is backfilled over its SLO period from Prometheus, oldest first, this "
        "many hours per pull (one query per hour and counter).",
    )
    unreachable_after_s: int = Field(
        60,
        ge=0,
        le=3600,
        description="A flow whose source has failed every pull for this long is evaluated as no data and raises "
        'a WARNING "SLI source unreachable" (resolved when it answers again); shorter blips only delay its counts.',
    )
    max_response_bytes: int = Field(
        16 * 1024 * 1024,
        ge=64 * 1024,
        le=512 * 1024 * 1024,
        description="The largest answer read from Prometheus; a larger one fails the query (said, not truncated).",
    )
