"""Debian's Chromium and chromedriver for the browser tests, installed with apt-get when missing.

Nothing here downloads a browser or a driver from anywhere but Debian's own package archive:
Selenium is handed both paths, so its Selenium Manager never looks for one on the internet.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PACKAGES = ("chromium", "chromium-driver")
INSTALL_TIMEOUT_S = 900
LOCK_PATH = Path(tempfile.gettempdir()) / "relops-chromium-install.lock"


class ChromiumUnavailable(RuntimeError):
    """Chromium or chromedriver is missing and could not be installed."""


def _find() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    return (chromium, chromedriver) if chromium and chromedriver else None


def _apt_get(*args: str, timeout_s: float) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Wait for a concurrent dpkg/apt (another run, unattended upgrades) rather than fail at once.
    command = ["apt-get", "-o", "DPkg::Lock::Timeout=300", *args]
    try:
        done = subprocess.run(
            command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout_s
        )
    except subprocess.TimeoutExpired as exc:
        raise ChromiumUnavailable(f"`{' '.join(command)}` did not finish within {timeout_s:.0f} s") from exc
    except OSError as exc:
        raise ChromiumUnavailable(f"cannot run apt-get ({exc}); install {' '.join(PACKAGES)} by hand") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-20:])
        raise ChromiumUnavailable(f"`{' '.join(command)}` exited {done.returncode}:\n{tail}")


def ensure_chromium(timeout_s: float = INSTALL_TIMEOUT_S) -> tuple[str, str]:
    """(chromium, chromedriver) paths; ``apt-get install``s Debian's packages first when missing.

    Quick and side-effect free when both are installed. A lock file keeps two test runs on one
    machine from racing each other through apt-get.
    """
    found = _find()
    if found:
        return found
    if shutil.which("apt-get") is None:
        raise ChromiumUnavailable(f"chromium/chromedriver not found and no apt-get here; install {PACKAGES}")
    if os.geteuid() != 0:
        raise ChromiumUnavailable(
            "chromium/chromedriver not found; as root run: apt-get install -y --no-install-recommends "
            + " ".join(PACKAGES)
        )
    with LOCK_PATH.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _find()  # another run may have installed them while this one waited
        if found:
            return found
        _apt_get("update", timeout_s=timeout_s)
        _apt_get("install", "-y", "--no-install-recommends", *PACKAGES, timeout_s=timeout_s)
    found = _find()
    if not found:
        raise ChromiumUnavailable(f"apt-get installed {PACKAGES} but chromium or chromedriver is still not on PATH")
    return found


if __name__ == "__main__":
    print(*ensure_chromium())
