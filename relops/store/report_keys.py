"""Report keys and metrics keys (ops_report_keys): added and revoked by an owner, read by the intake
and, one hash at a time, by the dashboard (a scraper's key)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, text

from relops.access.report_keys import ReportKey


def add_key(
    conn: Connection,
    *,
    name: str,
    key_hash: str,
    scopes: Sequence[str],
    flows: Sequence[str] | None,
    jobs: Sequence[str] | None,
    rate_per_s: float,
    burst: int,
    created_by: str,
) -> int:
    return conn.execute(
        text(
            "INSERT INTO ops_report_keys (name, key_hash, scopes, flows, jobs, rate_per_s, burst, created_by) "
            "VALUES (:name, :hash, :scopes, :flows, :jobs, :rate, :burst, :by) RETURNING id"
        ),
        {
            "name": name,
            "hash": key_hash,
            "scopes": list(scopes),
            "flows": None if flows is None else list(flows),
            "jobs": None if jobs is None else list(jobs),
            "rate": rate_per_s,
            "burst": burst,
            "by": created_by,
        },
    ).scalar_one()


def key_row(conn: Connection, name: str) -> RowMapping | None:
    return (
        conn.execute(
            text("SELECT id, name, scopes, flows, jobs, revoked_at FROM ops_report_keys WHERE name = :name"),
            {"name": name},
        )
        .mappings()
        .first()
    )


def list_keys(conn: Connection) -> list[RowMapping]:
    return list(
        conn.execute(
            text(
                "SELECT id, name, scopes, flows, jobs, rate_per_s, burst, created_by, created_at, revoked_at "
                "FROM ops_report_keys ORDER BY revoked_at IS NOT NULL, name"
            )
        ).mappings()
    )


def revoke_key(conn: Connection, name: str) -> bool:
    """True when a live key was revoked now."""
    revoked = conn.execute(
        text("UPDATE ops_report_keys SET revoked_at = now() WHERE name = :name AND revoked_at IS NULL RETURNING id"),
        {"name": name},
    ).first()
    return revoked is not None


def live_keys(conn: Connection) -> dict[str, ReportKey]:
    """Every unrevoked key by its hash: the intake's whole view, reloaded every second."""
    rows = conn.execute(
        text(
            "SELECT id, name, key_hash, scopes, flows, jobs, rate_per_s, burst "
            "FROM ops_report_keys WHERE revoked_at IS NULL"
        )
    )
    return {
        row.key_hash: ReportKey(
            id=row.id,
            name=row.name,
            scopes=frozenset(row.scopes),
            flows=None if row.flows is None else frozenset(row.flows),
            jobs=None if row.jobs is None else frozenset(row.jobs),
            rate_per_s=float(row.rate_per_s),
            burst=int(row.burst),
        )
        for row in rows
    }


def scrape_key(conn: Connection, key_hash: str) -> tuple[str, frozenset[str]] | None:
    """(name, scopes) of the live key with ``key_hash``, or None: the dashboard's check of a
    scraper's key. It goes through ops_metrics_key(), which answers for one hash at a time, because
    the dashboard's role may not read the keys' hashes (migrations 0011 and 0014)."""
    row = conn.execute(text("SELECT name, scopes FROM ops_metrics_key(:hash)"), {"hash": key_hash}).first()
    return None if row is None else (row.name, frozenset(row.scopes))
