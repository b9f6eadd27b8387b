"""Slack's request signature (relops.access.slack_signature), checked as Slack's "Verifying requests
from Slack" says (https://api.slack.com/authentication/verifying-requests-from-slack, "Validating a
request"): v0= + hex HMAC-SHA256 of v0:{X-Slack-Request-Timestamp}:{raw body}, keyed with the
app's signing secret, and no request older (or newer) than five minutes."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from relops.access.slack_signature import MAX_SKEW_S, signature, signature_problem

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_531_420_618
BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
    b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)


def test_the_signature_is_the_one_slacks_documentation_computes_for_its_example():
    """Slack's own worked example: this secret, timestamp and body give this signature."""
    assert signature(SECRET, str(NOW), BODY) == ("v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")


def test_the_signature_is_an_hmac_sha256_of_version_timestamp_and_body():
    expected = hmac.new(SECRET.encode(), f"v0:{NOW}:".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, str(NOW), BODY) == f"v0={expected}"


def test_a_request_signed_with_the_secret_within_the_window_is_slacks():
    assert signature_problem(SECRET, str(NOW), signature(SECRET, str(NOW), BODY), BODY, NOW + 10) is None
    # Up to five minutes either way (Slack's clock and ours disagree a little).
    for skew in (-MAX_SKEW_S, MAX_SKEW_S):
        sent = str(NOW + skew)
        assert signature_problem(SECRET, sent, signature(SECRET, sent, BODY), BODY, NOW) is None


def test_a_changed_body_is_refused():
    sent = signature(SECRET, str(NOW), BODY)
    problem = signature_problem(SECRET, str(NOW), sent, BODY.replace(b"roadrunner", b"coyote"), NOW)
    assert problem is not None and problem.startswith("X-Slack-Signature does not match")


def test_a_changed_timestamp_is_refused_even_inside_the_window():
    sent = signature(SECRET, str(NOW), BODY)
    assert signature_problem(SECRET, str(NOW + 1), sent, BODY, NOW) is not None


def test_another_secret_is_refused():
    sent = signature("another-apps-signing-secret-0000", str(NOW), BODY)
    assert "does not match" in (signature_problem(SECRET, str(NOW), sent, BODY, NOW) or "")


def test_a_stale_request_is_refused_whatever_its_signature():
    sent_at = str(NOW - MAX_SKEW_S - 1)
    problem = signature_problem(SECRET, sent_at, signature(SECRET, sent_at, BODY), BODY, NOW)
    assert problem == "X-Slack-Request-Timestamp is 301 s old, more than the 300 s a request may be replayed in"


def test_a_request_from_the_future_is_refused():
    sent_at = str(NOW + MAX_SKEW_S + 60)
    problem = signature_problem(SECRET, sent_at, signature(SECRET, sent_at, BODY), BODY, NOW)
    assert problem == "X-Slack-Request-Timestamp is 360 s in the future, more than the 300 s allowed"


@pytest.mark.parametrize(
    ("timestamp", "sent", "problem"),
    [
        (None, "v0=abc", "X-Slack-Request-Timestamp is missing"),
        ("", "v0=abc", "X-Slack-Request-Timestamp is missing"),
        (str(NOW), None, "X-Slack-Signature is missing"),
        (str(NOW), "", "X-Slack-Signature is missing"),
        ("12.5", "v0=abc", "X-Slack-Request-Timestamp is not epoch seconds"),
        ("-100", "v0=abc", "X-Slack-Request-Timestamp is not epoch seconds"),
        ("١٥٣١٤٢٠٦١٨", "v0=abc", "X-Slack-Request-Timestamp is not epoch seconds"),
        ("9" * 40, "v0=abc", "X-Slack-Request-Timestamp is not epoch seconds"),
    ],
)
def test_missing_or_malformed_headers_are_refused_naming_the_header(
    timestamp: str | None, sent: str | None, problem: str
):
    assert signature_problem(SECRET, timestamp, sent, BODY, NOW) == problem


@pytest.mark.parametrize(
    "sent", ["v0=", "v1=" + "0" * 64, "v0=ÿ" + "0" * 63, "V0=" + signature(SECRET, str(NOW), BODY)[3:]]
)
def test_any_other_signature_text_is_refused_without_an_error(sent: str):
    assert "does not match" in (signature_problem(SECRET, str(NOW), sent, BODY, NOW) or "")


def test_a_refusal_never_tells_the_right_signature():
    right = signature(SECRET, str(NOW), BODY)
    problem = signature_problem(SECRET, str(NOW), "v0=" + "0" * 64, BODY, NOW) or ""
    assert right not in problem and right[3:] not in problem and SECRET not in problem
