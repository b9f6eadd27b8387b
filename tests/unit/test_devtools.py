"""The development harness itself."""

from relops.devtools.celery_process import REPO


def test_celery_processes_start_in_the_checkout():
    """Benchmarks load their own task modules (``--include bench.naive_tasks``) from there."""
    assert (REPO / "pyproject.toml").is_file() and (REPO / "bench" / "naive_tasks.py").is_file()
