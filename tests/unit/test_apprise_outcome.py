"""A failed Apprise send mapped to retry or dead letter from what its plugin logged; the receiver's
URLs split, shown by scheme only, and checked (config check names the receiver and field, never the
URL).

The log lines below are the words of Apprise 2.x's plugins (apprise/plugins/custom_json.py and
ntfy.py: "Failed to send … notification: <phrase>, error=<code>." and "A Connection error occurred
…" followed by "Socket Exception: …"); ntfy's error codes are its HTTP status times 100 plus a
number (https://docs.ntfy.sh/publish/#limitations: 42901 "limit reached: too many requests").
"""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from relops.channels.apprise import AppriseChannel, _limits, _plugin, scheme_of, split_urls
from relops.channels.apprise_format import render_apprise
from relops.channels.apprise_outcome import LogLine, failure, http_status
from relops.channels.registry import build_receivers, check_receivers
from relops.cli import cli
from relops.config import ChannelSettings, parse_config
from relops.config.routing import ReceiverConfig
from relops.errors import ConfigError
from relops.settings import Settings
from tests.samples import CONTEXT, notification

W, D = logging.WARNING, logging.DEBUG
SECRET_TOPIC = "t0pic-n0body-guesses"
TOKEN = "tk_5ecret0ken0fntfy"


def failed(code: int, phrase: str = "") -> LogLine:
    return LogLine(W, f"Failed to send ntfy notification to topic '{SECRET_TOPIC}': {phrase}, error={code}.")


@pytest.mark.parametrize(
    ("lines", "retryable", "status", "reason"),
    [
        ([failed(400, "Bad Request")], False, 400, "apprise ntfy: HTTP 400: Bad Request"),
        ([failed(40035, "invalid topic")], False, 400, "apprise ntfy: HTTP 400: Bad Request"),
        ([failed(401)], False, 401, "apprise ntfy: HTTP 401: Unauthorized"),
        ([failed(404)], False, 404, "apprise ntfy: HTTP 404: Not Found"),
        ([failed(302)], False, 302, "apprise ntfy: HTTP 302: unexpected redirect (not followed)"),
        ([failed(408)], True, 408, "apprise ntfy: HTTP 408: Request Timeout"),
        ([failed(42901, "limit reached")], True, 429, "apprise ntfy: HTTP 429: Too Many Requests"),
        ([failed(500)], True, 500, "apprise ntfy: HTTP 500: Internal Server Error"),
        ([failed(503)], True, 503, "apprise ntfy: HTTP 503: Service Unavailable"),
        # Two topics of one URL: one worth retrying makes the whole retried.
        ([failed(400), failed(503)], True, 503, "apprise ntfy: HTTP 503: Service Unavailable"),
        (
            [
                LogLine(W, "A Connection error occurred sending ntfy:http://127.0.0.1:1 notification."),
                LogLine(D, "Socket Exception: HTTPConnectionPool(host='127.0.0.1'): Read timed out. (read timeout=1)"),
            ],
            True,
            None,
            "apprise ntfy: timed out",
        ),
        (
            [
                LogLine(W, "A Connection error occurred sending JSON notification to 127.0.0.1."),
                LogLine(D, "Socket Exception: [Errno 111] Connection refused"),
            ],
            True,
            None,
            "apprise ntfy: connection failed",
        ),
        ([LogLine(W, "There are no ntfy topics to notify")], True, None, "apprise ntfy: not delivered"),
        ([], True, None, "apprise ntfy: not delivered"),
    ],
)
def test_a_failure_is_retried_or_dead_lettered_by_its_status(
    lines: list[LogLine], retryable: bool, status: int | None, reason: str
) -> None:
    error = failure("apprise ntfy", lines)
    assert error.retryable is retryable
    assert error.status == status
    assert error.reason.startswith(reason)
    assert SECRET_TOPIC not in error.reason and "127.0.0.1" not in error.reason


def test_a_429_waits_relops_default_second_since_apprise_hides_retry_after() -> None:
    assert failure("apprise json", [failed(429)]).retry_after_s == 1.0
    assert failure("apprise json", [failed(503)]).retry_after_s is None


def test_only_warnings_and_worse_carry_a_status() -> None:
    # A DEBUG line quoting a response body that says "error=400" is not the plugin's verdict.
    assert failure("apprise json", [LogLine(D, "Response Details: b'error=400'")]).status is None


@pytest.mark.parametrize(("code", "status"), [(200, 200), (429, 429), (40035, 400), (42901, 429), (50001, 500)])
def test_ntfy_codes_carry_the_http_status(code: int, status: int) -> None:
    assert http_status(code) == status


def test_a_list_of_urls_splits_before_each_scheme_only() -> None:
    text = " ntfys://tk_a@ntfy.example.com/oncall?tags=warning,skull, discord://1/t0ken;json://h/p  mailto://u:p@x.com "
    assert split_urls(text) == [
        "ntfys://tk_a@ntfy.example.com/oncall?tags=warning,skull",
        "discord://1/t0ken",
        "json://h/p",
        "mailto://u:p@x.com",
    ]
    assert split_urls("json://h/p,json://h/p") == ["json://h/p"]
    assert split_urls("  ") == []


@pytest.mark.parametrize(
    ("url", "scheme"),
    [("NTFYS://x/y", "ntfys"), ("discord://1/2", "discord"), ("no scheme here", None), ("://x", None)],
)
def test_only_the_scheme_is_ever_shown(url: str, scheme: str | None) -> None:
    assert scheme_of(url) == scheme


def channel(monkeypatch: pytest.MonkeyPatch, value: str | None) -> AppriseChannel:
    if value is None:
        monkeypatch.delenv("APPRISE_TEST_URLS", raising=False)
    else:
        monkeypatch.setenv("APPRISE_TEST_URLS", value)
    spec = ReceiverConfig(type="apprise", url_env="APPRISE_TEST_URLS")
    return AppriseChannel(Settings(), ChannelSettings(), "phones", spec)


def test_destination_shows_the_schemes_and_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    phones = channel(monkeypatch, f"ntfy://{TOKEN}@127.0.0.1:8080/{SECRET_TOPIC}, json://127.0.0.1/hook/{TOKEN}")
    assert phones.missing_configuration() is None
    assert phones.destination() == "apprise: ntfy, json"
    key = phones.rate_limit_key()
    assert key.startswith("apprise: ntfy, json#") and TOKEN not in key and SECRET_TOPIC not in key
    other = channel(monkeypatch, f"ntfy://{TOKEN}@127.0.0.1:8080/another, json://127.0.0.1/hook/{TOKEN}")
    assert other.rate_limit_key() != key


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, "url_env APPRISE_TEST_URLS is not set"),
        ("", "url_env APPRISE_TEST_URLS is not set"),
        (f"nosuchservice://{TOKEN}@host/x", "url_env APPRISE_TEST_URLS: Apprise cannot use this nosuchservice:// URL"),
        (f"discord://{TOKEN}", "url_env APPRISE_TEST_URLS: Apprise cannot use this discord:// URL"),
        (
            f"{TOKEN}, json://127.0.0.1/ok",
            "url_env APPRISE_TEST_URLS (URL 1 of 2): Apprise cannot use it (no scheme:// at its start)",
        ),
        (",".join(f"json://127.0.0.1/{i}" for i in range(11)), "url_env APPRISE_TEST_URLS lists 11 URLs; at most 10"),
    ],
)
def test_a_url_apprise_cannot_use_is_named_by_field_never_quoted(
    monkeypatch: pytest.MonkeyPatch, value: str | None, problem: str
) -> None:
    found = channel(monkeypatch, value).missing_configuration()
    assert found is not None and found.startswith(problem)
    assert TOKEN not in found


def test_an_apprise_receiver_needs_url_env_and_takes_no_other_destination_key() -> None:
    missing = parse_config({"receivers": {"phones": {"type": "apprise"}}, "route": {"receivers": ["phones"]}}, "x.toml")
    with pytest.raises(ConfigError, match=r"receivers\.phones: field 'url_env': an apprise receiver needs"):
        check_receivers(missing, "x.toml")
    wrong = parse_config(
        {"receivers": {"phones": {"type": "apprise", "url_env": "U", "to": ["a@example.com"]}}}, "x.toml"
    )
    with pytest.raises(ConfigError, match="field 'to': not a key of a apprise receiver"):
        check_receivers(wrong, "x.toml")


def test_config_check_names_the_receiver_and_field_of_a_url_apprise_cannot_use(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "relops.toml"
    path.write_text('[receivers.phones]\ntype = "apprise"\nurl_env = "PHONES"\n\n[route]\nreceivers = ["phones"]\n')
    monkeypatch.setenv("PHONES", f"ntfy://{TOKEN}@127.0.0.1:8080/{SECRET_TOPIC}, discord://{TOKEN}")
    checked = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert checked.exit_code == 0, checked.output
    assert (
        "receiver phones (apprise): skipped here: url_env PHONES (URL 2 of 2): Apprise cannot use this discord:// URL"
        in checked.output
    )
    assert TOKEN not in checked.output and SECRET_TOPIC not in checked.output
    monkeypatch.setenv("PHONES", f"ntfy://{TOKEN}@127.0.0.1:8080/{SECRET_TOPIC}")
    checked = CliRunner().invoke(cli, ["config", "check", str(path)])
    assert checked.exit_code == 0, checked.output
    assert "receiver phones (apprise): delivers to apprise: ntfy via alerts.apprise" in checked.output
    assert TOKEN not in checked.output and SECRET_TOPIC not in checked.output


@pytest.mark.parametrize(
    ("url", "title", "body"),
    [
        # Discord's 2,000 characters hold the title and the body together (overflow_amalgamate_title).
        ("discord://123456789/AbCdEfGhIjKlMnOp", 250, 2000 - 252),
        # Telegram has no title: it becomes the body's first line.
        ("tgram://123456789:AbCdEfGhIjKlMnOpQrStUvWxYz/987654321", 0, 4096),
        ("ntfy://127.0.0.1/oncall", 200, 7800 - 202),
    ],
)
def test_each_service_gets_a_message_within_its_own_limits(url: str, title: int, body: int) -> None:
    plugin = _plugin(url)
    assert plugin is not None
    assert _limits(plugin) == (title, body)
    many = [notification(summary="x" * 3000, fingerprint=f"slo:f{i}") for i in range(30)]
    message = render_apprise(many, CONTEXT, markdown=True, max_title_chars=title, max_body_chars=body)
    assert len(message.title) <= title and len(message.body) <= body
    if getattr(plugin, "overflow_amalgamate_title", False):
        assert len(message.title) + len(message.body) <= int(plugin.body_maxlen)


def test_a_worker_at_start_skips_the_receiver_and_says_why_without_the_url(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config(
        {"receivers": {"phones": {"type": "apprise", "url_env": "PHONES"}}, "route": {"receivers": ["phones"]}},
        "x.toml",
    )
    monkeypatch.setenv("PHONES", f"discord://{TOKEN}")
    caplog.set_level(logging.INFO)
    assert "phones" not in build_receivers(Settings(), config)
    [skipped] = [r for r in caplog.records if "phones" in r.getMessage()]
    assert skipped.levelno == logging.WARNING
    assert "url_env PHONES: Apprise cannot use this discord:// URL" in skipped.getMessage()
    assert TOKEN not in caplog.text
    monkeypatch.setenv("PHONES", f"ntfy://{TOKEN}@127.0.0.1/{SECRET_TOPIC}")
    assert build_receivers(Settings(), config)["phones"].destination() == "apprise: ntfy"
