"""Who is asking: a bearer token (API) or the session cookie set at login (pages)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy import Engine

from relops.store.users import User, user_by_token_hash
from relops.tokens import hash_token

COOKIE = "relops_token"


def request_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.cookies.get(COOKIE) or None


def authenticate(engine: Engine, token: str | None) -> User | None:
    if not token or len(token) > 200:
        return None
    with engine.connect() as conn:
        return user_by_token_hash(conn, hash_token(token))
