"""``relops users add|list|revoke|rotate|set-role|set-slack|clear-slack``: who may use the dashboard
and the API, and whose clicks on a Slack alert's buttons act as whom.

Only an owner may write users (RELOPS_ADMIN_DATABASE_URL): neither the workers' nor the web
service's role can. Every change is audited with the operating-system user who ran it, and
revoking, rotating or re-roling a user ends all their sessions at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from relops.store.users import ROLES

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine, RowMapping


def _engine() -> Engine:
    from relops.db import get_engine
    from relops.settings import get_settings

    return get_engine(get_settings().admin_db_url)


def _existing(conn: Connection, name: str) -> RowMapping:
    from relops.store.users import user_row

    row = user_row(conn, name)
    if row is None:
        raise click.ClickException(f"no user named {name!r} (relops users list shows them)")
    return row


@click.group()
def users() -> None:
    """Users of the dashboard and the JSON API."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="admin reads ops data; viewer reads nothing.")
def add(name: str, role: str) -> None:
    """Create a user and print its API token once (only a hash is stored)."""
    from relops.application.audit import cli_actor
    from relops.store.users import add_user, user_row
    from relops.tokens import hash_token, new_token

    token = new_token()
    with _engine().begin() as conn:
        existing = user_row(conn, name)
        if existing is not None:
            state = "revoked" if existing["revoked_at"] else existing["role"]
            raise click.ClickException(
                f"a user named {name!r} exists already ({state}): `relops users rotate {name}` gives it a new "
                f"token, `relops users set-role {name} ROLE` changes its role; or pick another name"
            )
        add_user(conn, name, role, hash_token(token))
        cli_actor().record(conn, "user.add", f"user {name}", role=role)
    click.echo(f"user {name} ({role}) created. Its token, shown this once:\n{token}")


@users.command("list")
def list_() -> None:
    """Every user: role, when created, revoked or not, live sessions, the Slack user linked."""
    from relops.store.users import list_users

    with _engine().connect() as conn:
        rows = list_users(conn)
    if not rows:
        click.echo("no users yet: relops users add NAME --role admin")
        return
    click.echo(f"{'name':<24} {'role':<7} {'created':<19}  {'state':<28} {'sessions':<8} slack")
    for row in rows:
        state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M:%S}" if row["revoked_at"] else "active"
        created = f"{row['created_at']:%Y-%m-%d %H:%M:%S}"
        slack = row["slack_user_id"] or "-"
        click.echo(f"{row['name']:<24} {row['role']:<7} {created}  {state:<28} {row['sessions']:<8} {slack}")


@users.command("revoke")
@click.argument("name")
def revoke(name: str) -> None:
    """Revoke a user: its token stops working and every session it has ends now."""
    from relops.application.audit import cli_actor
    from relops.store.users import end_sessions, revoke_user
    from relops.timeutil import utcnow

    with _engine().begin() as conn:
        user = _existing(conn, name)
        if user["revoked_at"] is not None:
            raise click.ClickException(f"{name} was revoked already, at {user['revoked_at']:%Y-%m-%d %H:%M:%S}")
        revoke_user(conn, user["id"], utcnow())
        ended = end_sessions(conn, user["id"])
        cli_actor().record(conn, "user.revoke", f"user {name}", sessions_ended=ended)
    click.echo(f"user {name} revoked; {ended} session(s) ended")


@users.command("rotate")
@click.argument("name")
def rotate(name: str) -> None:
    """Give a user a new token, printed once; the old token and every session end now."""
    from relops.application.audit import cli_actor
    from relops.store.users import end_sessions, replace_token
    from relops.tokens import hash_token, new_token

    token = new_token()
    with _engine().begin() as conn:
        user = _existing(conn, name)
        if user["revoked_at"] is not None:
            raise click.ClickException(f"{name} is revoked: add a new user instead")
        replace_token(conn, user["id"], hash_token(token))
        ended = end_sessions(conn, user["id"])
        cli_actor().record(conn, "user.rotate", f"user {name}", sessions_ended=ended)
    click.echo(f"user {name} has a new token ({ended} session(s) ended). Shown this once:\n{token}")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
def set_role_command(name: str, role: str) -> None:
    """Change a user's role; every session it has ends now (it signs in again with the new role)."""
    from relops.application.audit import cli_actor
    from relops.store.users import end_sessions, set_role

    with _engine().begin() as conn:
        user = _existing(conn, name)
        if user["role"] == role:
            click.echo(f"user {name} is {role} already; nothing changed")
            return
        set_role(conn, user["id"], role)
        ended = end_sessions(conn, user["id"])
        cli_actor().record(conn, "user.set_role", f"user {name}", role=role, was=user["role"], sessions_ended=ended)
    click.echo(f"user {name} is now {role}; {ended} session(s) ended")


@users.command("set-slack")
@click.argument("name")
@click.argument("slack_user_id")
def set_slack(name: str, slack_user_id: str) -> None:
    """Link a user to a Slack user (its member ID, U…): that Slack user's clicks on an alert's
    Acknowledge, Resolve and Silence 1 h buttons act as this user (an admin's only)."""
    from relops.application.audit import cli_actor
    from relops.channels.slack_actions import slack_user_id_problem
    from relops.store.users import set_slack_user, slack_user_owner

    problem = slack_user_id_problem(slack_user_id)
    if problem is not None:
        raise click.BadParameter(problem, param_hint="SLACK_USER_ID")
    with _engine().begin() as conn:
        user = _existing(conn, name)
        owner = slack_user_owner(conn, slack_user_id)
        if owner == name:
            click.echo(f"user {name} is linked to Slack user {slack_user_id} already; nothing changed")
            return
        if owner is not None:
            raise click.ClickException(
                f"Slack user {slack_user_id} is linked to {owner!r}: `relops users clear-slack {owner}` first"
            )
        set_slack_user(conn, user["id"], slack_user_id)
        cli_actor().record(
            conn, "user.set_slack", f"user {name}", slack_user_id=slack_user_id, was=user["slack_user_id"]
        )
    click.echo(f"user {name} is linked to Slack user {slack_user_id}: their clicks on alert buttons act as {name}")


@users.command("clear-slack")
@click.argument("name")
def clear_slack(name: str) -> None:
    """Unlink a user from its Slack user: that Slack user's clicks are refused from now on."""
    from relops.application.audit import cli_actor
    from relops.store.users import set_slack_user

    with _engine().begin() as conn:
        user = _existing(conn, name)
        if user["slack_user_id"] is None:
            click.echo(f"user {name} is not linked to a Slack user; nothing changed")
            return
        set_slack_user(conn, user["id"], None)
        cli_actor().record(conn, "user.clear_slack", f"user {name}", was=user["slack_user_id"])
    click.echo(f"user {name} is no longer linked to Slack user {user['slack_user_id']}")
