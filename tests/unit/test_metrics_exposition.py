"""relops' writers of a scrape write what prometheus_client's writers write, byte for byte, on every
family relops makes (Sloth's included), in both formats; a name they do not take goes to
prometheus_client's writer; and, unlike prometheus_client 0.26's default OpenMetrics writing,
names with colons stay one name."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as openmetrics

from relops.application.metrics import metric_families
from relops.metrics.exposition import write_openmetrics, write_text, writer_for
from tests.unit.test_metrics_families import config, facts


class Collector:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


def everything() -> list[Metric]:
    return metric_families(config(sloth=True), facts(), ["webhook", "email"])


def test_the_classic_format_is_prometheus_clients_byte_for_byte():
    families = everything()
    assert write_text(families) == generate_latest(Collector(families))


def test_openmetrics_is_prometheus_clients_byte_for_byte_for_legacy_names():
    families = everything()
    expected = openmetrics.generate_latest(Collector(families), escaping=openmetrics.ALLOWUTF8)
    assert write_openmetrics(families) == expected


def test_colons_stay_where_prometheus_client_would_split_the_name():
    families = everything()
    ours = write_openmetrics(families).decode()
    theirs = openmetrics.generate_latest(Collector(families)).decode()  # its default: underscores
    assert "slo_objective_ratio{" in theirs  # the upstream fault: the TYPE line says slo:objective:ratio
    assert "slo_objective_ratio" not in ours
    assert "\nslo:objective:ratio{" in ours


def test_timestamps_created_and_escaped_text_as_prometheus_client_writes_them():
    gauge = GaugeMetricFamily("x_seconds", 'doc with "quotes", a \\ and\na newline', labels=["a"], unit="seconds")
    gauge.add_metric(['va"l\\ue\nx'], 1234567.0, timestamp=1700000000.5)
    gauge.add_metric(["b"], float("nan"))
    counter = CounterMetricFamily("c", "counted", labels=["k"])
    counter.add_metric(["v"], 3, created=1700000000.0)
    families: list[Metric] = [gauge, counter]
    assert write_text(families) == generate_latest(Collector(families))
    expected = openmetrics.generate_latest(Collector(families), escaping=openmetrics.ALLOWUTF8)
    assert write_openmetrics(families) == expected


def test_a_name_outside_the_legacy_set_goes_to_prometheus_clients_writer():
    odd = GaugeMetricFamily("odd", "a reserved label name", labels=["__reserved"])
    odd.add_metric(["v"], 1)
    assert write_text([odd]) == generate_latest(Collector([odd]))
    assert write_openmetrics([odd]) == openmetrics.generate_latest(Collector([odd]))


def test_the_format_is_prometheus_clients_choice():
    prometheus = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
    write, content_type = writer_for(prometheus)
    assert content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert write([]) == b"# EOF\n"
    write, content_type = writer_for("")
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert write is write_text
