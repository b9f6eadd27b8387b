"""relops.notify_<channel> (one task and one queue per channel type; the receiver is an argument)
and relops.sweep_notifications (relops.application.deliver)."""

from __future__ import annotations

from typing import Any

from relops import names
from relops.application import deliver
from relops.channels.registry import channel_classes
from tasks.base import RelopsTask, worker_deps
from workers import app


def _register(channel_name: str) -> None:
    @app.task(name=names.notify_task(channel_name), base=RelopsTask)
    def notify(*, message_key: str | None = None, receiver: str | None = None, **_: Any) -> dict[str, Any]:
        # Messages queued before receivers existed carry no receiver: the type's default one.
        return deliver.notify(worker_deps(), receiver or channel_name, message_key)


for _name in channel_classes():
    _register(_name)


@app.task(name=names.TASK_SWEEP_NOTIFICATIONS, base=RelopsTask)
def sweep_notifications(**_: Any) -> dict[str, int]:
    return deliver.sweep(worker_deps())
