"""Dashboard and API users: a name, a role, a token hash."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

ROLES = ("admin", "viewer")


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def add_user(conn: Connection, name: str, role: str, token_hash: str) -> int:
    return conn.execute(
        text("INSERT INTO ops_users (name, role, token_hash) VALUES (:name, :role, :hash) RETURNING id"),
        {"name": name, "role": role, "hash": token_hash},
    ).scalar_one()


def user_by_token_hash(conn: Connection, token_hash: str) -> User | None:
    row = conn.execute(
        text("SELECT id, name, role FROM ops_users WHERE token_hash = :hash"), {"hash": token_hash}
    ).first()
    return None if row is None else User(id=row.id, name=row.name, role=row.role)
