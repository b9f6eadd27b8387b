"""The development harness itself, and where each piece of it lives."""

import ast
import pkgutil
from pathlib import Path

import relops.cli
import relops.localdev
from tests.support.celery_process import REPO


def test_celery_processes_start_in_the_checkout():
    """Benchmarks load their own task modules (``--include bench.naive_tasks``) from there."""
    assert (REPO / "pyproject.toml").is_file() and (REPO / "bench" / "naive_tasks.py").is_file()


def test_the_wheel_ships_only_the_local_tools_a_relops_command_imports():
    """relops.localdev ships with relops, so each of its modules must be one a `relops` command runs
    (the rest of the harness is tests/support, outside the wheel); and it needs nothing from tests."""
    shipped = {module.name for module in pkgutil.iter_modules(relops.localdev.__path__)}
    used_by_commands = set()
    for path in Path(relops.cli.__path__[0]).glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("relops.localdev."):
                used_by_commands.add(node.module.removeprefix("relops.localdev."))
            elif isinstance(node, ast.ImportFrom) and node.module == "relops.localdev":
                used_by_commands.update(alias.name for alias in node.names)
    assert shipped == used_by_commands == {"local_servers", "sink"}
    for path in Path(relops.localdev.__path__[0]).glob("*.py"):
        imported = [n.module or "" for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in imported if m.split(".")[0] in ("tests", "bench")], path.name
