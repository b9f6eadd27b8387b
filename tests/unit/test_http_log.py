"""The HTTP libraries' log records lose every URL path and query (relops.http_log), keep the rest."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from relops.http_log import MaskHttpUrls, http_library_loggers, mask_http_library_logs, mask_http_text

SECRET = "s3cr3tT0k3n"


def record(name: str, msg: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.DEBUG, __file__, 1, msg, args, exc_info)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        # urllib3.connectionpool's request line: host, method, status and bytes stay; the target goes.
        (
            f'http://127.0.0.1:5000 "POST /services/T0001/B0001/{SECRET} HTTP/1.1" 200 2',
            'http://127.0.0.1:5000 "POST /*** HTTP/1.1" 200 2',
        ),
        (
            "Starting new HTTPS connection (1): hooks.example.com:443",
            "Starting new HTTPS connection (1): hooks.example.com:443",
        ),
        # urllib3.util.retry's warning ends with the path it retries.
        (
            "Retrying (Retry(total=2)) after connection broken by 'ReadTimeoutError()': /hooks/abc?token=x",
            "Retrying (Retry(total=2)) after connection broken by 'ReadTimeoutError()': /***",
        ),
        (
            "Incremented Retry for (url='/a/b?c=d'): Retry(total=0)",
            "Incremented Retry for (url='/***'): Retry(total=0)",
        ),
        # httpx's INFO line: the whole URL, user info included.
        (
            'HTTP Request: POST https://user:pw@example.com:8443/x/y?sig=abc "HTTP/1.1 200 OK"',
            'HTTP Request: POST https://example.com:8443/*** "HTTP/1.1 200 OK"',
        ),
        ("to http://[::1]:8080/p/q#frag now", "to http://[::1]:8080/*** now"),
        ("a target with only a query ?token=zz", "a target with only a query /***"),
        ("http://example.com", "http://example.com"),
    ],
)
def test_urls_keep_their_host_and_lose_their_path_and_query(text: str, shown: str) -> None:
    assert mask_http_text(text) == shown


def test_known_secrets_are_masked_wherever_they_appear() -> None:
    assert mask_http_text(f"header value {SECRET}x", [SECRET]) == "header value ***x"


def test_the_filter_rewrites_an_http_librarys_record_and_its_traceback_and_keeps_it() -> None:
    try:
        raise ConnectionError(f"cannot reach http://127.0.0.1:9/services/T1/B1/{SECRET}")
    except ConnectionError:
        exc_info = sys.exc_info()
    rec = record(
        "urllib3.connectionpool",
        '%s://%s:%s "%s %s %s" %s %s',
        "http",
        "h",
        80,
        "POST",
        f"/x/{SECRET}",
        "HTTP/1.1",
        500,
        2,
        exc_info=exc_info,
    )
    assert MaskHttpUrls().filter(rec) is True
    line = logging.Formatter("%(name)s %(message)s").format(rec)
    assert SECRET not in line
    assert 'urllib3.connectionpool http://h:80 "POST /*** HTTP/1.1" 500 2' in line
    assert "cannot reach http://127.0.0.1:9/***" in line


def test_other_loggers_records_pass_untouched() -> None:
    rec = record("relops.channels", "event=notify.delivered path=%s", "/kept/as/is")
    assert MaskHttpUrls().filter(rec) is True
    assert rec.getMessage() == "event=notify.delivered path=/kept/as/is"


def test_installing_twice_leaves_one_filter_on_each_library_logger_and_handler() -> None:
    handler = logging.NullHandler()
    mask_http_library_logs(["a-secret"], [handler])
    mask = mask_http_library_logs(["a-secret"], [handler])
    loggers = http_library_loggers()
    assert {lib for lib in ("urllib3", "requests") if logging.getLogger(lib) in loggers} == {"urllib3", "requests"}
    for filterer in (*loggers, handler):
        assert [f for f in filterer.filters if isinstance(f, MaskHttpUrls)] == [mask]


def test_the_security_guide_shows_what_a_masked_urllib3_line_is() -> None:
    guide = (Path(__file__).parents[2] / "docs" / "guides" / "security.md").read_text()
    raw = f'https://hooks.example.com:443 "POST /services/T0001/B0001/{SECRET} HTTP/1.1" 200 2'
    assert f"`{mask_http_text(raw)}`" in guide
