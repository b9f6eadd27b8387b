"""Prometheus' HTTP API as a source of raw counter samples (``GET /api/v1/query`` with a range
vector selector), bounded in time and size. Every failure is a SourceUnavailable whose message
names what failed and never holds the URL's credentials.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import requests

from relops.config.counter_query import CounterQuery
from relops.config.sli_sources import PrometheusSource
from relops.redaction import mask_password, scrub, url_credentials
from relops.settings import named_variable
from relops.slo.counter_increments import Sample

#: Read at most this much of an answer at a time.
CHUNK_BYTES = 64 * 1024


class SourceUnavailable(Exception):
    """Prometheus did not answer a query, or answered with an error or something unreadable.
    ``refused``: it answered, and said the query is wrong (a 4xx with Prometheus' error)."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


class PrometheusReader:
    """Raw samples of counter queries from the Prometheus at ``url``."""

    def __init__(self, url: str, *, timeout_s: float, max_response_bytes: int) -> None:
        self._url = url.rstrip("/")
        self._timeout_s = timeout_s
        self._max_bytes = max_response_bytes
        self._secrets = url_credentials(url)
        self._session = requests.Session()

    @property
    def shown_url(self) -> str:
        return mask_password(self._url)

    def raw_samples(self, query: CounterQuery, *, end: float, seconds: int) -> list[list[Sample]]:
        """Every series' raw samples of ``query`` in the ``seconds`` up to ``end`` (unix seconds), each
        sorted by time."""
        data = self._get("query", {"query": query.range_query(seconds), "time": f"{end:.3f}"})
        if data.get("resultType") != "matrix":
            raise SourceUnavailable(f"Prometheus answered {query.selector!r} with a {data.get('resultType')!r}")
        series = []
        for item in data.get("result", ()):
            values = item.get("values") or ()
            series.append([(float(timestamp), float(value)) for timestamp, value in values])
        return series

    def check(self, query: CounterQuery) -> None:
        """Ask for a minute of ``query``'s samples: SourceUnavailable when Prometheus refuses the query."""
        self._get("query", {"query": query.range_query(60)})

    def close(self) -> None:
        self._session.close()

    def _get(self, endpoint: str, params: dict[str, str]) -> dict[str, Any]:
        where = f"{self.shown_url}/api/v1/{endpoint}"
        try:
            with self._session.get(
                f"{self._url}/api/v1/{endpoint}", params=params, timeout=self._timeout_s, stream=True
            ) as response:
                body = b"".join(self._bounded(response.iter_content(CHUNK_BYTES)))
                status = response.status_code
        except SourceUnavailable:
            raise
        except requests.RequestException as exc:
            raise SourceUnavailable(
                f"no answer from {where} ({type(exc).__name__}: {scrub(str(exc), self._secrets, limit=200)})"
            ) from None
        try:
            answer = json.loads(body)
        except ValueError:
            raise SourceUnavailable(f"{where} answered {status} with a body that is not JSON") from None
        if status != 200 or not isinstance(answer, dict) or answer.get("status") != "success":
            error = answer.get("error", "") if isinstance(answer, dict) else ""
            raise SourceUnavailable(
                f"{where} answered {status}: {scrub(str(error), self._secrets, limit=300) or 'no error given'}",
                refused=400 <= status < 500,
            )
        data = answer.get("data")
        if not isinstance(data, dict):
            raise SourceUnavailable(f"{where} answered without data")
        return data

    def _bounded(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        received = 0
        for chunk in chunks:
            received += len(chunk)
            if received > self._max_bytes:
                raise SourceUnavailable(
                    f"{self.shown_url} answered with more than {self._max_bytes} bytes ([sources] max_response_bytes)"
                )
            yield chunk


class PrometheusReaders:
    """A reader for each flow's Prometheus (the URL from the variable its ``url_env`` names), one per
    URL and timeout, closed together; or why there is none (the variable unset)."""

    def __init__(self, max_response_bytes: int) -> None:
        self._max_bytes = max_response_bytes
        self._readers: dict[tuple[str, float], PrometheusReader] = {}

    def __call__(self, source: PrometheusSource) -> PrometheusReader | str:
        url = named_variable(source.url_env)
        if url is None:
            return f"{source.url_env} is not set: it names the Prometheus to read ([[flows]] prometheus.url_env)"
        key = (url.get_secret_value(), source.timeout_s)
        if key not in self._readers:
            self._readers[key] = PrometheusReader(key[0], timeout_s=key[1], max_response_bytes=self._max_bytes)
        return self._readers[key]

    def __enter__(self) -> PrometheusReaders:
        return self

    def __exit__(self, *exc: object) -> None:
        for reader in self._readers.values():
            reader.close()
        self._readers.clear()
