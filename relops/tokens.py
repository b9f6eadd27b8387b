"""API tokens: random, shown once, stored only as a hash. Pure: no I/O."""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "rlp_"


def new_token() -> str:
    """256 random bits: a SHA-256 of it needs no salt or slow hash (nothing to guess)."""
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
