"""The workers' JSON decoding: deep nesting refused, and kombu's own encoding and typed values kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from kombu.serialization import dumps, loads, registry

from relops import safe_json


@pytest.fixture
def installed():
    """safe_json.install(lambda field: None) in this process, undone afterwards (kombu's registry is global)."""
    before = (registry._encoders["json"], registry._decoders["application/json"])
    safe_json.install(lambda field: None)
    yield
    encoder, decoder = before
    registry._encoders["json"] = encoder
    registry._decoders["application/json"] = decoder


def test_values_kombu_can_encode_still_encode_and_come_back(installed):
    """Replacing the encoder too (the old install) made datetimes unencodable: TypeError."""
    value = {"at": datetime(2026, 11, 30, 12, 0, tzinfo=UTC), "id": uuid.UUID(int=7), "n": Decimal("1.5")}
    content_type, encoding, body = dumps(value, serializer="json")
    back = loads(body, content_type, encoding)
    assert back == value


def test_nesting_deeper_than_the_limit_is_refused_while_decoding(installed):
    deep = "[" * (safe_json.MAX_DEPTH + 1) + "]" * (safe_json.MAX_DEPTH + 1)
    with pytest.raises(Exception, match="nested deeper than 64"):
        loads(deep, "application/json", "utf-8")
    assert loads("[" * 10 + "]" * 10, "application/json", "utf-8") == [[[[[[[[[[]]]]]]]]]]
