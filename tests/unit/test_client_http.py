"""The client's HTTP reports (ping, http_sender) send the key only where the intake URL says: a
redirect is refused, never followed, and plain http goes to this machine only unless asked.
Against real local HTTP servers: an intake URL that redirects, and the place it redirects to."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from relops_client import http_sender, ping
from relops_client.intake_url import UnsafeIntakeURL, checked_intake_url
from relops_client.ping import RedirectRefused

from relops.localdev.sink import HttpSink, SinkResponse

KEY = "rlk_test_key_never_leaves_0123456789abcdef"


@pytest.fixture
def elsewhere() -> Iterator[HttpSink]:
    """Where a hostile or misconfigured intake URL redirects to: it accepts anything with a 202."""
    with HttpSink(default=SinkResponse(status=202, body=b"{}")) as sink:
        yield sink


def redirecting_to(target: str, status: int) -> HttpSink:
    return HttpSink(default=SinkResponse(status=status, body=b"", headers={"Location": target}))


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_ping_refuses_a_redirect_and_the_key_goes_nowhere_else(
    status: int, elsewhere: HttpSink, caplog: pytest.LogCaptureFixture
) -> None:
    # Another host name than the intake URL's, as a hostile redirect's would be.
    target = f"http://localhost:{elsewhere.port}/collect"
    with redirecting_to(target, status) as intake, caplog.at_level(logging.ERROR):
        accepted = ping(intake.url, KEY, "nightly-export", "fail", body="Traceback ...", retries=0)
        assert intake.received == 1
    assert accepted is False, "a redirect is not an accepted report"
    assert elsewhere.received == 0, [(r.method, r.path, r.header("Authorization")) for r in elsewhere.requests]
    logged = caplog.text
    assert "RedirectRefused" in logged and f"HTTP {status}" in logged and "http://localhost" in logged
    assert KEY not in logged and "/collect" not in logged


def test_an_http_sender_refuses_a_redirect(elsewhere: HttpSink) -> None:
    with redirecting_to(elsewhere.url + "/api/v1/outcomes", 303) as intake:
        send = http_sender(intake.url, KEY)
        with pytest.raises(RedirectRefused, match="HTTP 303"):
            send("batch-1", [{"flow": "checkout", "minute": "2026-11-27T10:24:00Z", "good": 1, "bad": 0}])
        assert intake.received == 1
    assert elsewhere.received == 0


def test_plain_http_to_another_machine_is_refused_before_any_connection(caplog: pytest.LogCaptureFixture) -> None:
    # 192.0.2.0/24 is reserved for documentation: a connection attempt would hang, not answer.
    with caplog.at_level(logging.ERROR):
        assert ping("http://192.0.2.10:8081", KEY, "nightly-export", retries=0, timeout_s=30) is False
    assert "UnsafeIntakeURL" in caplog.text and "192.0.2.10" in caplog.text and KEY not in caplog.text
    with pytest.raises(UnsafeIntakeURL, match="plain http"):
        http_sender("http://relops.example", KEY)


def test_plain_http_to_loopback_still_works(elsewhere: HttpSink) -> None:
    assert ping(elsewhere.url, KEY, "nightly-export", retries=0) is True
    [request] = elsewhere.requests
    assert request.method == "POST" and request.path == "/api/v1/cron/nightly-export"
    assert request.header("Authorization") == f"Bearer {KEY}"


@pytest.mark.parametrize(
    ("url", "allow_http", "expected"),
    [
        ("https://relops.example/", False, "https://relops.example"),
        ("http://127.0.0.1:8081", False, "http://127.0.0.1:8081"),
        ("http://127.8.0.1:8081", False, "http://127.8.0.1:8081"),
        ("http://[::1]:8081", False, "http://[::1]:8081"),
        ("http://LOCALHOST:8081", False, "http://LOCALHOST:8081"),
        ("http://relops.internal:8081", True, "http://relops.internal:8081"),
    ],
)
def test_the_urls_a_key_may_go_to(url: str, allow_http: bool, expected: str) -> None:
    assert checked_intake_url(url, allow_http=allow_http) == expected


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://relops.example", "plain http"),
        ("http://10.0.0.5:8081", "plain http"),
        ("http://localhost.evil.example", "plain http"),
        ("file:///etc/passwd", "https://"),
        ("ftp://relops.example", "https://"),
        ("relops.example", "https://"),
        ("https://user:secret@relops.example", "user or password"),
    ],
)
def test_the_urls_a_key_may_not_go_to(url: str, why: str) -> None:
    with pytest.raises(UnsafeIntakeURL, match=why) as refused:
        checked_intake_url(url)
    assert "secret" not in str(refused.value)
