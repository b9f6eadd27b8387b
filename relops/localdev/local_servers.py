"""The local Redis and PostgreSQL a development run needs, and RabbitMQ when it is the broker:
checked, started and stopped (``relops services``, relops.cli.services, is the command).

``up`` uses a server that already answers; otherwise, when the URL points at this machine and the
server binaries are installed, it starts a private Redis or PostgreSQL whose data lives in ``var/``
(relative to the current folder). RabbitMQ is only checked: a node is a system service (its Erlang
cookie, its users), so ``up`` says how to start it instead. ``down`` stops only what ``up`` started,
found through the pid files in ``var/``. Every connection attempt and every subprocess has a
timeout: nothing here can hang.
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from relops_client.queues import broker_kind
from relops_client.redis_connect import broker_kombu_url, is_sentinel_url, parse_sentinel_url, redis_from_url
from sqlalchemy.engine import make_url

from relops.errors import ServiceError
from relops.redaction import mask_password, scrub, url_credentials

CONNECT_TIMEOUT_S = 3.0
START_DEADLINE_S = 30.0
STOP_DEADLINE_S = 20.0
COMMAND_TIMEOUT_S = 120.0
POLL_INTERVAL_S = 0.3
DEFAULT_REDIS_PORT = 6379
DEFAULT_PG_PORT = 5432
DEFAULT_AMQP_PORTS = {"amqps": 5671}
DEFAULT_AMQP_PORT = 5672
PG_USER = "postgres"
DEBIAN_PG_ROOT = Path("/etc/postgresql")
PG_BIN_GLOB_ROOT = Path("/usr/lib/postgresql")
#: A unix socket path is limited to 107 bytes; PostgreSQL appends "/.s.PGSQL.<port>".
MAX_SOCKET_DIR_CHARS = 90
INSTALL_HINT = (
    "install the servers (Debian/Ubuntu: apt-get install redis-server postgresql) "
    "or run everything in containers with `docker compose up`"
)
RABBITMQ_HINT = (
    "relops does not start RabbitMQ itself: start its service (Debian/Ubuntu: apt-get install "
    "rabbitmq-server, then `service rabbitmq-server start`), or `docker compose --profile rabbitmq up -d "
    "rabbitmq`, or point the URL at a running one"
)


@dataclass(frozen=True)
class Endpoint:
    """One server a URL points at."""

    kind: str  # "redis", "postgres" or "rabbitmq"
    label: str  # what the report calls it: "redis", "broker", "postgres", "rabbitmq"
    url: str  # the URL to connect with (for PostgreSQL: the maintenance database)
    host: str | None
    port: int

    @property
    def shown_url(self) -> str:
        return ";".join(mask_password(part.strip()) for part in self.url.split(";"))


@dataclass(frozen=True)
class Outcome:
    """What ``up`` did for one endpoint."""

    endpoint: Endpoint
    action: str  # "reachable", "started", "failed"
    detail: str = ""


# --- URLs -----------------------------------------------------------------------------------------


def redis_endpoint(url: str, label: str) -> Endpoint:
    """A Redis URL's server; for a sentinel:// URL, its first Sentinel (the check asks them all)."""
    if is_sentinel_url(url):
        host, port = parse_sentinel_url(url).sentinels[0]
        return Endpoint("redis", label, url, host, port)
    parts = urlsplit(url)
    return Endpoint("redis", label, url, parts.hostname, parts.port or DEFAULT_REDIS_PORT)


def postgres_endpoint(database_url: str) -> Endpoint:
    """The server's ``postgres`` maintenance database, as a plain libpq URL (no ``+psycopg``)."""
    url = make_url(database_url).set(drivername="postgresql", database="postgres")
    return Endpoint(
        "postgres",
        "postgres",
        url.render_as_string(hide_password=False),
        url.host,
        url.port or DEFAULT_PG_PORT,
    )


def rabbitmq_endpoint(url: str, label: str) -> Endpoint:
    """The first node of ``url`` (Celery's ``;`` failover list is tried in order)."""
    parts = urlsplit(url.split(";")[0].strip())
    port = parts.port or DEFAULT_AMQP_PORTS.get(parts.scheme.lower(), DEFAULT_AMQP_PORT)
    return Endpoint("rabbitmq", label, url, parts.hostname, port)


def endpoints(redis_url: str, broker_url: str, database_url: str, rabbitmq_urls: Sequence[str] = ()) -> list[Endpoint]:
    """Redis, the broker when it is RabbitMQ or a different Redis URL, PostgreSQL, and any other
    RabbitMQ named (the test suite runs on one besides Redis)."""
    found = [redis_endpoint(redis_url, "redis")]
    if broker_kind(broker_url) == "amqp":
        found.append(rabbitmq_endpoint(broker_url, "broker"))
    elif broker_kombu_url(broker_url) != broker_kombu_url(redis_url):
        found.append(redis_endpoint(broker_url, "broker"))
    found.append(postgres_endpoint(database_url))
    found += [rabbitmq_endpoint(url, "rabbitmq") for url in rabbitmq_urls]
    return found


def is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- reachability ---------------------------------------------------------------------------------


def redis_problem(url: str, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """None when Redis answers PING (for a sentinel:// URL: the primary its Sentinels name), else why not."""
    import redis

    client = redis_from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return str(exc) or type(exc).__name__
    finally:
        client.close()
    return None


def postgres_problem(url: str, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """None when PostgreSQL accepts a connection to the URL's database, else why not."""
    import psycopg

    try:
        # libpq's connect_timeout is whole seconds, minimum 2.
        with psycopg.connect(url, connect_timeout=max(2, round(timeout))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return " ".join(str(exc).split()) or type(exc).__name__
    return None


def rabbitmq_problem(url: str, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    """None when RabbitMQ accepts a connection (and the URL's credentials and vhost), else why not
    (no password in it)."""
    from kombu import Connection

    connection = Connection(url, connect_timeout=timeout)
    try:
        connection.ensure_connection(max_retries=1, timeout=timeout + 2)
    except Exception as exc:  # refused, bad credentials, timed out: each is "not usable"
        return f"{type(exc).__name__}: {scrub(str(exc), url_credentials(url), limit=300)}"
    finally:
        connection.release()
    return None


def problem(endpoint: Endpoint, timeout: float = CONNECT_TIMEOUT_S) -> str | None:
    checks = {"redis": redis_problem, "postgres": postgres_problem, "rabbitmq": rabbitmq_problem}
    return checks[endpoint.kind](endpoint.url, timeout)


def port_open(host: str, port: int, timeout: float = CONNECT_TIMEOUT_S) -> bool:
    """Whether anything accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(check: Callable[[], str | None], deadline_s: float) -> str | None:
    """Poll ``check`` until it returns None or the deadline passes; returns the last problem."""
    deadline = time.monotonic() + deadline_s
    last = check()
    while last is not None and time.monotonic() < deadline:
        time.sleep(POLL_INTERVAL_S)
        last = check()
    return last


# --- processes ------------------------------------------------------------------------------------


def run(argv: list[str], cwd: Path | None = None, timeout: float = COMMAND_TIMEOUT_S) -> None:
    """Run a command; raise ServiceError with its output when it fails or times out."""
    try:
        done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ServiceError(f"{shlex.join(argv)} did not finish within {timeout:.0f}s") from None
    except OSError as exc:
        raise ServiceError(f"cannot run {argv[0]}: {exc}") from None
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        raise ServiceError(f"{shlex.join(argv)} failed (exit {done.returncode}): {output}")


def read_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def process_matches(pid: int, program: str) -> bool:
    """Whether pid is alive and (where /proc exists) runs ``program``: never signal a reused pid."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    cmdline = Path(f"/proc/{pid}/cmdline")
    if not Path("/proc/self").exists():
        return True
    try:
        return program in cmdline.read_bytes().decode(errors="replace")
    except OSError:
        return False


def stop_process(pid: int, program: str, sig: signal.Signals) -> bool:
    """Signal pid and wait for it to exit; True when it is gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + STOP_DEADLINE_S
    while time.monotonic() < deadline:
        if not process_matches(pid, program):
            return True
        time.sleep(POLL_INTERVAL_S)
    return not process_matches(pid, program)


# --- Redis ----------------------------------------------------------------------------------------


def redis_dir(var: Path, label: str) -> Path:
    """``var/redis`` for REDIS_URL; a separate broker Redis gets ``var/redis-broker``."""
    return var / "redis" if label == "redis" else var / f"redis-{label}"


def start_redis(endpoint: Endpoint, var: Path) -> str:
    """Start a private redis-server on the endpoint's port; returns where its files are."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise ServiceError(f"redis-server is not installed: {INSTALL_HINT}")
    if urlsplit(endpoint.url).scheme != "redis":
        raise ServiceError("only a plain redis:// URL can be started locally (not TLS or a unix socket)")
    data = redis_dir(var, endpoint.label).resolve()
    data.mkdir(parents=True, exist_ok=True)
    bind = "::1" if endpoint.host == "::1" else "127.0.0.1"
    argv = [binary, "--port", str(endpoint.port), "--bind", bind, "--daemonize", "yes"]
    argv += ["--save", "", "--appendonly", "no", "--dir", str(data)]
    argv += ["--logfile", str(data / "redis.log"), "--pidfile", str(data / "redis.pid")]
    password = urlsplit(endpoint.url).password
    if password:
        argv += ["--requirepass", password]
    run(argv, timeout=15)
    return str(data)


# --- PostgreSQL -----------------------------------------------------------------------------------


def debian_cluster_port(conf: Path) -> int:
    port = DEFAULT_PG_PORT
    for line in conf.read_text(errors="replace").splitlines():
        match = re.match(r"\s*port\s*=?\s*'?(\d+)", line)
        if match:
            port = int(match.group(1))
    return port


def debian_cluster(port: int, root: Path = DEBIAN_PG_ROOT) -> tuple[str, str] | None:
    """(version, cluster name) of a Debian cluster configured for ``port``, if any."""
    if shutil.which("pg_ctlcluster") is None or not root.is_dir():
        return None
    for conf in sorted(root.glob("*/*/postgresql.conf")):
        try:
            if debian_cluster_port(conf) == port:
                return conf.parent.parent.name, conf.parent.name
        except OSError:
            continue
    return None


def pg_bindir() -> Path | None:
    """Where initdb and pg_ctl live: PATH first, then the newest /usr/lib/postgresql/<v>/bin."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    candidates = [p for p in PG_BIN_GLOB_ROOT.glob("*/bin") if (p / "pg_ctl").exists() and (p / "initdb").exists()]
    candidates.sort(key=lambda p: [int(x) for x in re.findall(r"\d+", p.parent.name)] or [0])
    return candidates[-1] if candidates else None


def as_pg_user(argv: list[str]) -> list[str]:
    """Prefix argv to run as the postgres user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServiceError("running as root, and PostgreSQL refuses root, but runuser (util-linux) is missing")
    return [runuser, "-u", PG_USER, "--", *argv]


def prepare_pg_dir(path: Path) -> None:
    """Create a folder PostgreSQL can own; when root, hand it to the postgres user."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    if os.geteuid() != 0:
        return
    try:
        entry = pwd.getpwnam(PG_USER)
    except KeyError:
        raise ServiceError(
            f"running as root, and PostgreSQL refuses root, but there is no '{PG_USER}' user to run it as: "
            f"create one (useradd --system {PG_USER}) or run as a normal user"
        ) from None
    os.chown(path, entry.pw_uid, entry.pw_gid)
    probe = as_pg_user(["test", "-w", str(path)])
    try:
        run(probe, timeout=15)
    except ServiceError:
        raise ServiceError(
            f"PostgreSQL runs as user '{PG_USER}', which cannot reach {path} (a parent folder is not "
            f"searchable by it): run from a folder it can reach, or `chmod o+x` each parent folder"
        ) from None


def socket_dir(data: Path, port: int) -> Path:
    """The data folder itself, unless its path is too long for a unix socket."""
    if len(str(data)) <= MAX_SOCKET_DIR_CHARS:
        return data
    fallback = Path("/tmp") / f"relops-pg-{port}"
    prepare_pg_dir(fallback)
    return fallback


def start_debian_cluster(version: str, name: str, var: Path) -> str:
    run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "start"], timeout=60)
    var.mkdir(parents=True, exist_ok=True)
    (var / "pg-cluster").write_text(f"{version} {name}\n")
    return f"Debian cluster {version}/{name}"


def start_pg_ctl(endpoint: Endpoint, var: Path) -> str:
    """initdb var/pgdata when it is empty, then pg_ctl start it on the endpoint's port."""
    bindir = pg_bindir()
    if bindir is None:
        raise ServiceError(f"PostgreSQL server binaries (initdb, pg_ctl) are not installed: {INSTALL_HINT}")
    data = (var / "pgdata").resolve()
    prepare_pg_dir(data)
    if not (data / "PG_VERSION").exists():
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust"]
        run(as_pg_user([*initdb, "-E", "UTF8", "--locale=C"]), cwd=data)
    listen = "::1" if endpoint.host == "::1" else "127.0.0.1"
    sockets = shlex.quote(str(socket_dir(data, endpoint.port)))
    options = f"-p {endpoint.port} -c listen_addresses={listen} -k {sockets}"
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-o", options]
    run(as_pg_user([*pg_ctl, "-w", "-t", str(int(START_DEADLINE_S)), "start"]), cwd=data, timeout=60)
    return str(data)


def start_postgres(endpoint: Endpoint, var: Path) -> str:
    cluster = debian_cluster(endpoint.port)
    if cluster is not None:
        return start_debian_cluster(*cluster, var)
    return start_pg_ctl(endpoint, var)


# --- up / down ------------------------------------------------------------------------------------


def ensure_up(endpoint: Endpoint, var: Path) -> Outcome:
    """Use the server when it answers; else start a local one when that is possible."""
    why = problem(endpoint)
    if why is None:
        return Outcome(endpoint, "reachable")
    if endpoint.kind == "rabbitmq":
        return Outcome(endpoint, "failed", f"unreachable ({why}); {RABBITMQ_HINT}")
    if is_sentinel_url(endpoint.url):
        return Outcome(
            endpoint,
            "failed",
            f"unreachable through its Sentinels ({why}); relops does not start a Sentinel-managed Redis: "
            f"start the Sentinels and the primary they monitor (name: REDIS_SENTINEL_MASTER)",
        )
    if not is_loopback(endpoint.host):
        return Outcome(
            endpoint,
            "failed",
            f"unreachable ({why}); host {endpoint.host or '(unix socket)'} is not this machine, so relops "
            f"will not start it: start it there, or point the URL at a reachable server, or {INSTALL_HINT}",
        )
    if port_open(endpoint.host or "127.0.0.1", endpoint.port):
        return Outcome(endpoint, "failed", f"something listens on port {endpoint.port} but the check failed: {why}")
    starter = start_redis if endpoint.kind == "redis" else start_postgres
    try:
        where = starter(endpoint, var)
    except ServiceError as exc:
        return Outcome(endpoint, "failed", str(exc))
    last = wait_until(lambda: problem(endpoint), START_DEADLINE_S)
    if last is not None:
        return Outcome(endpoint, "failed", f"started ({where}) but still unreachable: {last}")
    return Outcome(endpoint, "started", where)


def unique_by_server(found: list[Endpoint]) -> list[Endpoint]:
    """One entry per (kind, host, port): the broker may be the same Redis under another db index."""
    seen: set[tuple[str, str | None, int]] = set()
    unique = []
    for endpoint in found:
        key = (endpoint.kind, endpoint.host, endpoint.port)
        if key not in seen:
            seen.add(key)
            unique.append(endpoint)
    return unique


def stop_pid_file(pid_file: Path, program: str, sig: signal.Signals) -> str:
    """Stop the process a pid file names; returns what happened."""
    pid = read_pid(pid_file)
    if pid is None or not process_matches(pid, program):
        pid_file.unlink(missing_ok=True)
        return "not running (stale pid file removed)"
    if not stop_process(pid, program, sig):
        raise ServiceError(f"{program} (pid {pid}) did not stop within {STOP_DEADLINE_S:.0f}s")
    pid_file.unlink(missing_ok=True)
    return f"stopped (pid {pid})"


def stop_redis(pid_file: Path) -> str:
    return stop_pid_file(pid_file, "redis-server", signal.SIGTERM)


def stop_postmaster(pid_file: Path) -> str:
    # SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, then exit cleanly.
    return stop_pid_file(pid_file, "postgres", signal.SIGINT)


def stop_debian_cluster(marker: Path) -> str:
    version, name = marker.read_text().split()
    run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "stop", "-m", "fast"], timeout=60)
    marker.unlink()
    return f"stopped Debian cluster {version}/{name}"


def stop_all(var: Path) -> list[tuple[str, str, bool]]:
    """Stop what ``up`` started, by the pid files (and cluster marker) in ``var``: (what, result, ok)."""
    jobs: list[tuple[str, Callable[[], str]]] = []
    for pid_file in sorted(var.glob("redis*/redis.pid")):
        jobs.append((f"redis ({pid_file.parent.name})", lambda f=pid_file: stop_redis(f)))
    if (var / "pgdata" / "postmaster.pid").exists():
        jobs.append(("postgres (pgdata)", lambda: stop_postmaster(var / "pgdata" / "postmaster.pid")))
    if (var / "pg-cluster").exists():
        jobs.append(("postgres (cluster)", lambda: stop_debian_cluster(var / "pg-cluster")))
    results = []
    for what, job in jobs:
        try:
            results.append((what, job(), True))
        except ServiceError as exc:
            results.append((what, str(exc), False))
    return results
