"""docs/guides/apprise.md says what the tests run: its config is the one tests/integration/test_apprise.py
gives its workers, and the files it names exist."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.apprise import RECEIVER_CONFIG

ROOT = Path(__file__).parents[2]
GUIDE = ROOT / "docs" / "guides" / "apprise.md"


def test_the_config_shown_is_the_one_the_tests_run() -> None:
    assert f"```toml\n{RECEIVER_CONFIG}```" in GUIDE.read_text()


def test_the_files_the_guide_names_exist() -> None:
    named = set(re.findall(r"`((?:tests|relops)/[\w/.-]+\.py)`", GUIDE.read_text()))
    assert {"tests/integration/test_apprise.py", "tests/support/apprise.py"} <= named
    assert all((ROOT / path).is_file() for path in named), named
