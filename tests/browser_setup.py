"""Debian's Chromium and chromedriver for the browser tests, installed with apt-get when missing.

Selenium is handed both paths, so its Selenium Manager never looks for a browser or a driver on
the internet.
"""

from __future__ import annotations

from tests.debian_packages import INSTALL_TIMEOUT_S, PackagesUnavailable, ensure_commands

PACKAGES = ("chromium", "chromium-driver")
#: The browser tests' name for a failed install.
ChromiumUnavailable = PackagesUnavailable

__all__ = ["INSTALL_TIMEOUT_S", "ChromiumUnavailable", "ensure_chromium"]


def ensure_chromium(timeout_s: float = INSTALL_TIMEOUT_S) -> tuple[str, str]:
    """(chromium, chromedriver) paths; ``apt-get install``s Debian's packages first when missing."""
    chromium, chromedriver = ensure_commands((("chromium", "chromium-browser"), ("chromedriver",)), PACKAGES, timeout_s)
    return chromium, chromedriver


if __name__ == "__main__":
    print(*ensure_chromium())
