"""The dashboard's pure rules: what counts as same-origin, CSRF tokens, what an access log may show."""

from __future__ import annotations

import pytest

from relops.redaction import redact_request_target
from relops.web.protection import csrf_matches, csrf_token, same_origin

OWN = "https://relops.example.com"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"sec-fetch-site": "same-origin"}, True),
        ({"sec-fetch-site": "same-site"}, False),  # a sibling subdomain, or another port of this host
        ({"sec-fetch-site": "cross-site"}, False),
        ({"sec-fetch-site": "none"}, False),  # typed in the address bar: never a form post
        ({"sec-fetch-site": "cross-site", "origin": OWN}, False),  # Fetch Metadata wins when present
        ({"origin": OWN}, True),
        ({"origin": OWN + "/"}, True),
        ({"origin": "HTTPS://RELOPS.EXAMPLE.COM"}, True),
        ({"origin": "https://relops.example.com:8443"}, False),
        ({"origin": "http://relops.example.com"}, False),
        ({"origin": "https://evil.example"}, False),
        ({"origin": "null"}, False),
        ({}, False),
    ],
)
def test_same_origin(headers, expected):
    assert same_origin(headers, OWN) is expected


def test_a_csrf_token_belongs_to_its_session():
    token = csrf_token("session-a")
    assert len(token) == 64 and token == csrf_token("session-a")
    assert csrf_matches("session-a", token)
    assert not csrf_matches("session-b", token)
    assert not csrf_matches("session-a", None) and not csrf_matches("session-a", "")


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("/api/v1/snapshot", "/api/v1/snapshot"),
        ("/incidents/12/ack", "/incidents/12/ack"),
        ("/api/v1/snapshot?token=anything", "/api/v1/snapshot?token=***"),
        ("/?api_key=x&limit=5&Session=y", "/?api_key=***&limit=5&Session=***"),
        ("/?q=rlp_AbCdEfGhIjKlMnOpQrSt", "/?q=***"),
        ("/api/v1/ping/rlp_AbCdEfGhIjKlMnOpQrSt/backup", "/api/v1/ping/***/backup"),
        ("/api/v1/ping/9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6/backup?run_id=7", "/api/v1/ping/***/backup?run_id=7"),
        ("/?s=4y9X_q-Lm2P8vKz0Rt7Wc3Nb5Hd1Jf6Gs9Aa0Bb1Cc", "/?s=***"),  # a session id's shape
        ("/api/v1/flows/checkout-eu-west-1/series", "/api/v1/flows/checkout-eu-west-1/series"),
        ("/?a=%72lp_AbCdEfGhIjKlMnOpQrSt", "/?a=***"),  # percent-encoded is decoded first
    ],
)
def test_what_an_access_log_may_show(target, shown):
    assert redact_request_target(target) == shown
