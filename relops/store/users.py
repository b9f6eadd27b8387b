"""Dashboard and API users (a name, a role, a token hash, revoked or not) and their sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, text

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
    """The user a token belongs to, unless revoked."""
    row = conn.execute(
        text("SELECT id, name, role FROM ops_users WHERE token_hash = :hash AND revoked_at IS NULL"),
        {"hash": token_hash},
    ).first()
    return None if row is None else User(id=row.id, name=row.name, role=row.role)


def list_users(conn: Connection) -> list[RowMapping]:
    """Every user, with its number of live sessions and its Slack user (revoked users too, marked)."""
    return list(
        conn.execute(
            text(
                "SELECT u.name, u.role, u.created_at, u.revoked_at, u.slack_user_id, "
                "  (SELECT count(*) FROM ops_sessions s WHERE s.user_id = u.id AND s.expires_at > now()) AS sessions "
                "FROM ops_users u ORDER BY u.name"
            )
        ).mappings()
    )


def user_row(conn: Connection, name: str) -> RowMapping | None:
    return (
        conn.execute(
            text("SELECT id, name, role, revoked_at, slack_user_id FROM ops_users WHERE name = :name"), {"name": name}
        )
        .mappings()
        .first()
    )


def end_sessions(conn: Connection, user_id: int) -> int:
    """Sign the user out everywhere; returns how many sessions ended."""
    return conn.execute(text("DELETE FROM ops_sessions WHERE user_id = :id"), {"id": user_id}).rowcount


def revoke_user(conn: Connection, user_id: int, at: datetime) -> None:
    conn.execute(text("UPDATE ops_users SET revoked_at = :at WHERE id = :id"), {"id": user_id, "at": at})


def replace_token(conn: Connection, user_id: int, token_hash: str) -> None:
    """A new token; the old one stops working at once. A revoked user stays revoked."""
    conn.execute(text("UPDATE ops_users SET token_hash = :hash WHERE id = :id"), {"id": user_id, "hash": token_hash})


def set_role(conn: Connection, user_id: int, role: str) -> None:
    conn.execute(text("UPDATE ops_users SET role = :role WHERE id = :id"), {"id": user_id, "role": role})


@dataclass(frozen=True)
class SlackUser:
    """The relops user a Slack user's clicks act as."""

    name: str
    role: str
    revoked: bool


def user_by_slack_id(conn: Connection, slack_user_id: str) -> SlackUser | None:
    """The relops user linked to ``slack_user_id`` (revoked or not), or None. Reads only the columns
    the workers' role may (never the token hash)."""
    row = conn.execute(
        text("SELECT name, role, revoked_at FROM ops_users WHERE slack_user_id = :slack"), {"slack": slack_user_id}
    ).first()
    return None if row is None else SlackUser(name=row.name, role=row.role, revoked=row.revoked_at is not None)


def slack_user_owner(conn: Connection, slack_user_id: str) -> str | None:
    """The name of the user ``slack_user_id`` is linked to already, if any."""
    return conn.execute(
        text("SELECT name FROM ops_users WHERE slack_user_id = :slack"), {"slack": slack_user_id}
    ).scalar_one_or_none()


def set_slack_user(conn: Connection, user_id: int, slack_user_id: str | None) -> None:
    """Link the user to a Slack user (None: unlink)."""
    conn.execute(
        text("UPDATE ops_users SET slack_user_id = :slack WHERE id = :id"), {"id": user_id, "slack": slack_user_id}
    )
