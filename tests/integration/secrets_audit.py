"""Where this run wrote text, and which of its secrets appear there. The session's audit
(conftest.no_secret_written) and test_secrets.py read the same places."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, text

#: Everything the run stores that an error, a payload or a receiver's answer could leak into.
STORED_TEXT = (
    "SELECT coalesce(string_agg(payload::text || coalesce(last_error, ''), ' '), '') FROM ops_notifications",
    "SELECT coalesce(string_agg(reason || alerts::text, ' '), '') FROM ops_dead_letters",
    "SELECT coalesce(string_agg(details::text || summary || title, ' '), '') FROM ops_alert_events",
    "SELECT coalesce(string_agg(reason || excerpt, ' '), '') FROM ops_rejected_inputs",
)


def written_logs(output_dir: Path) -> dict[str, str]:
    return {path.name: path.read_text(errors="replace") for path in sorted(output_dir.glob("*.log"))}


def stored_text(db: Engine) -> str:
    with db.connect() as conn:
        return " ".join(conn.execute(text(sql)).scalar() for sql in STORED_TEXT)


def secrets_written(db: Engine, output_dir: Path, secrets: tuple[str, ...]) -> list[str]:
    """ "<secret #> in <place>" for every secret found in a log file or the stored text."""
    places = {**written_logs(output_dir), "the database": stored_text(db)}
    return [f"secret #{i} in {place}" for place, body in places.items() for i, s in enumerate(secrets) if s in body]
