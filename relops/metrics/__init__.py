"""What relops exposes to Prometheus: the facts a scrape reads (``facts``), relops' own series made
from them (``families``), the series Sloth's recording rules make, opt-in (``sloth``), and the
format a scraper gets (``exposition``). Pure: the facts come in, prometheus_client's metric families
go out; reading the facts is the application's (relops.application.metrics), serving them the
dashboard's (GET /metrics)."""
