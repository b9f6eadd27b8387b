"""Debian packages a test needs (Chromium for the browser test, Node.js for the client examples),
installed with apt-get when missing.

Nothing here downloads from anywhere but Debian's own package archive. A lock file keeps two test
runs on one machine from racing each other through apt-get.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

INSTALL_TIMEOUT_S = 900
LOCK_PATH = Path(tempfile.gettempdir()) / "relops-apt-install.lock"


class PackagesUnavailable(RuntimeError):
    """A command is missing and its package could not be installed."""


def _find(commands: Sequence[Sequence[str]]) -> tuple[str, ...] | None:
    """The path of each command (each given as its alternative names), or None if one is missing."""
    found = []
    for names in commands:
        path = next((p for p in (shutil.which(name) for name in names) if p), None)
        if path is None:
            return None
        found.append(path)
    return tuple(found)


def _apt_get(*args: str, timeout_s: float, packages: Sequence[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Wait for a concurrent dpkg/apt (another run, unattended upgrades) rather than fail at once.
    command = ["apt-get", "-o", "DPkg::Lock::Timeout=300", *args]
    try:
        done = subprocess.run(
            command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as exc:
        raise PackagesUnavailable(f"`{' '.join(command)}` did not finish within {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise PackagesUnavailable(f"cannot run apt-get ({exc}); install {' '.join(packages)} by hand") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise PackagesUnavailable(f"`{' '.join(command)}` exited {done.returncode}:\n{tail}")


def ensure_commands(
    commands: Sequence[Sequence[str]], packages: Sequence[str], timeout_s: float = INSTALL_TIMEOUT_S
) -> tuple[str, ...]:
    """The paths of ``commands``; ``apt-get install``s ``packages`` first when one is missing.
    Quick and side-effect free when all are installed."""
    found = _find(commands)
    if found:
        return found
    wanted = " ".join(packages)
    if shutil.which("apt-get") is None:
        raise PackagesUnavailable(f"{wanted}: a command is missing and there is no apt-get here; install them")
    if os.geteuid() != 0:
        raise PackagesUnavailable(
            f"a command is missing; as root run: apt-get install -y --no-install-recommends {wanted}"
        )
    with LOCK_PATH.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _find(commands)  # another run may have installed them while this one waited
        if found:
            return found
        _apt_get("update", timeout_s=timeout_s, packages=packages)
        _apt_get("install", "-y", "--no-install-recommends", *packages, timeout_s=timeout_s, packages=packages)
    found = _find(commands)
    if not found:
        raise PackagesUnavailable(f"apt-get installed {wanted} but a command is still not on PATH")
    return found
