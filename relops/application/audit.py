"""Who is changing something: recorded with every ack, resolve and user change (ops_audit)."""

from __future__ import annotations

import getpass
import os
import socket
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection

from relops.store.audit import record_audit

Via = Literal["web", "api", "cli", "slack", "pagerduty"]


@dataclass(frozen=True)
class Actor:
    #: A user name (web, api, slack), the operating-system user (cli) or "PagerDuty: <user>" (pagerduty).
    name: str
    via: Via
    #: The client address (web, api), the host the CLI runs on, the Slack workspace and user, or the
    #: PagerDuty event's id.
    source: str

    def record(self, conn: Connection, action: str, target: str, **details: Any) -> None:
        """Append one audit row inside the caller's transaction: it commits with the change."""
        record_audit(
            conn, actor=self.name, via=self.via, source=self.source, action=action, target=target, details=details
        )


def cli_actor() -> Actor:
    """Whoever runs the relops command here; under sudo, the person behind it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (a bare container)
        user = f"uid {os.getuid()}"
    sudo = os.environ.get("SUDO_USER")
    return Actor(
        name=f"{user} (sudo by {sudo})" if sudo and sudo != user else user, via="cli", source=socket.gethostname()
    )
