"""A bad environment or config file stops worker, beat and Flower at start with the message alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CELERY = str(Path(sys.executable).parent / "celery")
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("command", [["worker"], ["beat"], ["flower", "--port=1"]])
@pytest.mark.parametrize(
    ("setting", "value", "expected"),
    [
        ("RELOPS_CONFIG", "{bad_config}", "field 'evaluation.chunk_size'"),
        ("REDIS_URL", "http://127.0.0.1:6379/0", "REDIS_URL: must start with redis://"),
        ("CELERY_BROKER_URL", "sqs://key:secret@queue", "CELERY_BROKER_URL: scheme sqs:// is not a broker"),
    ],
)
def test_a_process_refuses_to_start_and_says_why(tmp_path, command, setting, value, expected):
    bad_config = tmp_path / "bad.toml"
    bad_config.write_text('[evaluation]\nchunk_size = "ten"\n')
    env = {**os.environ, "RELOPS_CONFIG": str(REPO / "relops.toml"), setting: value.format(bad_config=bad_config)}
    done = subprocess.run(
        [CELERY, "-A", "workers", *command], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("relops: cannot start: ")
    assert expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
