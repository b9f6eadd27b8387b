"""``relops cron``: run a crontab command with reporting, and show the monitored jobs' health."""

from __future__ import annotations

import collections
import subprocess
import sys
import threading
import time
import uuid
from typing import IO

import click

STDERR_TAIL_LINES = 40


def _tee_tail(stream: IO[bytes], tail: collections.deque[str]) -> None:
    """Pass the command's stderr through unchanged while keeping its last lines for the report."""
    for line in iter(stream.readline, b""):
        sys.stderr.buffer.write(line)
        sys.stderr.buffer.flush()
        tail.append(line.decode("utf-8", errors="replace"))


@click.group()
def cron() -> None:
    """Scheduled jobs: report runs, show health."""


@cron.command("exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("name")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_command(name: str, command: tuple[str, ...]) -> None:
    """Run COMMAND as a run of job NAME: reports start and end (exit code, duration, stderr tail) and
    exits with the command's own exit code. For crontab lines: relops cron exec NAME -- cmd args..."""
    from relops_client.cron import broker_sender
    from relops_client.logs import kv

    from relops.timeutil import utcnow

    if command and command[0] == "--":  # click keeps the separator with UNPROCESSED arguments
        command = command[1:]
    if not command:
        raise click.UsageError("no command to run: relops cron exec NAME -- command args...")
    send = broker_sender()
    run_id = uuid.uuid4().hex

    def report(**fields: object) -> None:
        try:
            send({"name": name, "run_id": run_id, "at": utcnow().isoformat(), **fields})
        except Exception as exc:  # the job still runs and keeps its exit code; the lost report is said
            click.echo(
                kv(
                    event="cron.report_failed",
                    job=name,
                    run_id=run_id,
                    status=fields.get("status"),
                    error=f"{type(exc).__name__}: {str(exc)[:200]}",
                ),
                err=True,
            )

    report(status="started", duration_ms=None, result=None, error=None)
    started = time.monotonic()
    tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
    try:
        process = subprocess.Popen(list(command), stderr=subprocess.PIPE)
    except OSError as exc:
        exit_code = 127 if isinstance(exc, FileNotFoundError) else 126
        tail.append(f"cannot run {command[0]}: {exc.strerror}\n")
        click.echo(tail[-1], err=True, nl=False)
    else:
        assert process.stderr is not None
        reader = threading.Thread(target=_tee_tail, args=(process.stderr, tail), daemon=True)
        reader.start()
        try:
            exit_code = process.wait()
        except KeyboardInterrupt:
            exit_code = process.wait()
        reader.join(timeout=5)
    duration_ms = int((time.monotonic() - started) * 1000)
    status = "success" if exit_code == 0 else "failure"
    report(
        status=status,
        duration_ms=duration_ms,
        result={"exit_code": exit_code},
        error="".join(tail)[-4000:] or None if exit_code else None,
    )
    sys.exit(exit_code)


@cron.command("status")
def status() -> None:
    """Each monitored job: state, last run, failure streak, next deadline; and task fault counts."""
    from relops_client.redis_scripts import REDIS_FAULTS

    from relops import redis_keys
    from relops.store.cron import job_states
    from relops.wiring import engine, redis

    with engine().connect() as conn:
        rows = job_states(conn)
    if not rows:
        click.echo("no monitored job has reported yet")
    for row in rows:
        last = (
            f"{row['last_status']} at {row['last_finished_at']:%Y-%m-%d %H:%M:%S}" if row["last_finished_at"] else "-"
        )
        deadline = f"{row['next_deadline']:%Y-%m-%d %H:%M:%S}" if row["next_deadline"] else "-"
        state = "unknown (relops lagging)" if row["state"] == "unknown" else row["state"]
        click.echo(
            f"{row['name']:<30} {state:<26} last {last:<32} streak {row['consecutive_failures']:<3} "
            f"must start by {deadline}"
        )
    try:
        faults = redis().hgetall(redis_keys.task_faults())
    except REDIS_FAULTS:
        click.echo("task faults: unknown (redis unreachable)")
        return
    for key, count in sorted(faults.items()):
        click.echo(f"task faults: {key.decode()} = {int(count)}")
