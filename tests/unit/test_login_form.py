"""The sign-in form's parsing, the throttle's address buckets and the body cap's declared length:
pure functions, each edge named."""

from __future__ import annotations

import pytest

from relops.web.body_limit import declared_length
from relops.web.login_form import LoginBodyRefused, check_login_media_type, parse_login_body
from relops.web.throttle import address_bucket


def test_the_form_gives_its_name_and_token() -> None:
    assert parse_login_body(b"name=+alice+&token=rlp_abc&extra=1") == ("alice", "rlp_abc")
    assert parse_login_body(b"name=al%C3%AFce&name=mallory") == ("alïce", "")  # the first of a repeated field
    assert parse_login_body(b"") == ("", "")


@pytest.mark.parametrize("body", [b"&".join([b"a="] * 9), b"name=%ff", "name=é".encode()])
def test_an_unreadable_form_is_refused(body: bytes) -> None:
    with pytest.raises(LoginBodyRefused) as refused:
        parse_login_body(body)
    assert refused.value.status == 400


@pytest.mark.parametrize(
    "content_type", [None, "", "multipart/form-data; boundary=x", "application/json", "text/plain"]
)
def test_only_the_urlencoded_form_is_taken(content_type: str | None) -> None:
    with pytest.raises(LoginBodyRefused) as refused:
        check_login_media_type(content_type)
    assert refused.value.status == 415
    check_login_media_type("Application/X-WWW-Form-Urlencoded; charset=UTF-8")


@pytest.mark.parametrize(
    ("address", "bucket"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:5:7::1", "2001:db8:5:7::/64"),
        ("2001:db8:5:7:ffff:1:2:3", "2001:db8:5:7::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("unknown", "unknown"),
    ],
)
def test_failures_count_per_address_and_per_ipv6_64(address: str, bucket: str) -> None:
    assert address_bucket(address) == bucket


@pytest.mark.parametrize(
    ("headers", "length"),
    [([(b"content-length", b"65537")], 65537), ([(b"transfer-encoding", b"chunked")], None), ([], None)],
)
def test_the_declared_length(headers: list[tuple[bytes, bytes]], length: int | None) -> None:
    assert declared_length({"type": "http", "headers": headers}) == length
