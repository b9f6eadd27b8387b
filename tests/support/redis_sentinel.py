"""A Redis primary, one replica and one Sentinel on free loopback ports, for fault tests and trying
a failover by hand: started as child processes with nothing on disk but their logs and the Sentinel's
config file, stopped by PID.

One Sentinel with quorum 1 is enough to see relops through a failover: it alone decides the primary
is down and promotes the replica. (Production wants three or more Sentinels on separate machines, so
that one partitioned Sentinel cannot promote on its own.)
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import redis
from redis.sentinel import Sentinel

from relops.errors import ServiceError
from tests.support.celery_process import poll_until

HOST = "127.0.0.1"
START_DEADLINE_S = 20.0
STOP_DEADLINE_S = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One redis-server child process."""

    name: str
    port: int
    proc: subprocess.Popen
    log_path: Path
    password: str | None = None

    def client(self, timeout_s: float = 1.0) -> redis.Redis:
        return redis.Redis(
            HOST, self.port, password=self.password, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> None:
        """Signal the process (by its PID, as started) and wait for it; SIGKILL if it lingers."""
        if self.alive():
            self.proc.send_signal(sig)
            try:
                self.proc.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_DEADLINE_S)


@dataclass
class SentinelSet:
    """A primary, a replica of it and a Sentinel monitoring it as ``master_name``.

    ``down_after_ms``: how long the primary must be unreachable before the Sentinel calls it down;
    ``failover_timeout_ms``: the Sentinel's bound on one failover attempt (and the wait before it
    tries again). ``password``: the primary's and the replica's (``requirepass``, and ``masterauth``
    for replication); ``sentinel_password``: the Sentinel's own."""

    root: Path
    master_name: str = "relops-test"
    down_after_ms: int = 1000
    failover_timeout_ms: int = 5000
    password: str | None = None
    sentinel_password: str | None = None
    servers: dict[str, Server] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The sentinel:// URL (database 0) relops is given: REDIS_URL and CELERY_BROKER_URL."""
        userinfo = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"sentinel://{userinfo}{HOST}:{self.servers['sentinel'].port}/0"

    def start(self) -> SentinelSet:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)")
        try:
            primary = self._spawn(binary, "primary", None)
            self._wait_answering(primary)
            replica = self._spawn(binary, "replica", primary.port)
            self._wait_answering(replica)
            poll_until(lambda: self._linked(replica), START_DEADLINE_S, 0.1, "the replica in sync with the primary")
            sentinel = self._spawn_sentinel(binary, primary.port)
            self._wait_answering(sentinel)
            # A Sentinel can only promote a replica it knows of (it learns them from the primary's
            # INFO, every 10 s): a failover before that would find no replica to promote.
            poll_until(lambda: self._replica_known(replica.port), 30.0, 0.2, "the Sentinel knowing the replica")
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, binary: str, name: str, replica_of: int | None) -> Server:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        # Nothing on disk (no RDB snapshot, no append-only file): a killed primary takes whatever it
        # had not replicated with it, as a crashed one would. A config file keeps the password out of
        # the process list.
        lines = [f"port {port}", f"bind {HOST}", f"dir {folder}", 'save ""', "appendonly no", "daemonize no"]
        if replica_of is not None:
            lines.append(f"replicaof {HOST} {replica_of}")
        if self.password:
            lines += [f"requirepass {self.password}", f"masterauth {self.password}"]
        config = folder / "redis.conf"
        config.write_text("\n".join(lines) + "\n")
        config.chmod(0o600)
        return self._popen(name, port, [binary, str(config)], folder / "redis.log", self.password)

    def _spawn_sentinel(self, binary: str, primary_port: int) -> Server:
        folder = self.root / "sentinel"
        folder.mkdir(parents=True, exist_ok=True)
        port = free_port()
        # The Sentinel rewrites its config file as it learns the topology: it must be its own file.
        config = folder / "sentinel.conf"
        name = self.master_name
        config.write_text(
            f"port {port}\nbind {HOST}\ndir {folder}\n"
            f"sentinel monitor {name} {HOST} {primary_port} 1\n"
            f"sentinel down-after-milliseconds {name} {self.down_after_ms}\n"
            f"sentinel failover-timeout {name} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {name} 1\n"
            + (f"sentinel auth-pass {name} {self.password}\n" if self.password else "")
            + (f"requirepass {self.sentinel_password}\n" if self.sentinel_password else "")
        )
        config.chmod(0o600)
        argv = [binary, str(config), "--sentinel"]
        return self._popen("sentinel", port, argv, folder / "sentinel.log", self.sentinel_password)

    def _popen(self, name: str, port: int, argv: list[str], log_path: Path, password: str | None) -> Server:
        with log_path.open("ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        server = self.servers[name] = Server(name, port, proc, log_path, password)
        return server

    @staticmethod
    def _wait_answering(server: Server) -> None:
        def answers() -> bool:
            if not server.alive():
                raise ServiceError(f"{server.name} exited at start: {server.log_path.read_text()[-2000:]}")
            client = server.client()
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False
            finally:
                client.close()

        poll_until(answers, START_DEADLINE_S, 0.05, f"{server.name} answering")

    @staticmethod
    def _linked(replica: Server) -> bool:
        client = replica.client()
        try:
            return client.info("replication").get("master_link_status") == "up"
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _sentinel(self) -> redis.Redis:
        return self.servers["sentinel"].client()

    def _replica_known(self, port: int) -> bool:
        client = self._sentinel()
        try:
            replicas = client.sentinel_slaves(self.master_name)
        except redis.RedisError:
            return False
        finally:
            client.close()
        return any(r["port"] == port and not r["is_sdown"] for r in replicas)

    def primary_port(self) -> int | None:
        """The port of the primary as clients learn it from the Sentinel now (None: no usable primary).

        Asked as redis-py's clients ask (SENTINEL MASTERS, a primary not flagged down), not with
        SENTINEL GET-MASTER-ADDR-BY-NAME: that answers with the new address a moment before the
        Sentinel's own state of it stops saying down, and clients refuse it until then."""
        sentinel = self.servers["sentinel"]
        manager = Sentinel(
            [(HOST, sentinel.port)],
            sentinel_kwargs={"password": sentinel.password, "socket_timeout": 1.0, "socket_connect_timeout": 1.0},
        )
        try:
            return int(manager.discover_master(self.master_name)[1])
        except redis.RedisError:
            return None
        finally:
            for client in manager.sentinels:
                client.close()

    def kill_primary(self) -> float:
        """SIGKILL the primary (no shutdown, no last words to anyone); the monotonic time it died."""
        primary = self.servers["primary"]
        primary.stop(signal.SIGKILL)
        return time.monotonic()

    def promoted(self) -> bool:
        """The Sentinel names the replica as primary, and the replica says it is one."""
        replica = self.servers["replica"]
        if self.primary_port() != replica.port:
            return False
        client = replica.client()
        try:
            return client.info("replication").get("role") == "master"
        except redis.RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        """Stop every process this set started (by PID), the Sentinel first so it promotes nothing."""
        for name in ("sentinel", "replica", "primary"):
            server = self.servers.get(name)
            if server is not None:
                server.stop()
