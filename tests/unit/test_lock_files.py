"""The hash locks (requirements.lock for the image, requirements-dev.lock for developers and CI) pin
everything pyproject.toml asks for, each with hashes, and never relops or its client: those two come
from this checkout, so no package index is ever asked for a relops-client (anyone may publish one)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCAL_PACKAGES = {"relops", "relops-client"}
#: The build backend of both local packages: installed from the lock, so building them asks no index.
BUILD_BACKEND = {"setuptools", "wheel"}


def _pins(name: str) -> dict[str, tuple[str, list[str]]]:
    """{package: (version, hashes)} of a lock file written by `make lock`, for this interpreter
    (entries whose markers exclude it are left out)."""
    text = (ROOT / name).read_text()
    pins: dict[str, tuple[str, list[str]]] = {}
    for entry in re.split(r"\n(?=\S)", text):
        line = entry.split(" \\\n")[0].strip()
        if not line or line.startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{name}: {line} is not pinned with =="
        pins[canonicalize_name(requirement.name)] = (specifier.version, re.findall(r"--hash=(sha256:\w+)", entry))
    return pins


def _declared(pyproject: Path, extras: tuple[str, ...] = ()) -> list[Requirement]:
    project = tomllib.loads(pyproject.read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


def _direct_requirements(extras: tuple[str, ...]) -> list[Requirement]:
    wanted = _declared(ROOT / "pyproject.toml", extras) + _declared(ROOT / "clients" / "python" / "pyproject.toml")
    environment = default_environment()
    return [
        r
        for r in wanted
        if canonicalize_name(r.name) not in LOCAL_PACKAGES and (r.marker is None or r.marker.evaluate(environment))
    ]


@pytest.mark.parametrize(("lock", "extras"), [("requirements.lock", ()), ("requirements-dev.lock", ("test", "bench"))])
def test_every_dependency_is_pinned_with_hashes_and_the_local_packages_are_not(lock, extras):
    pins = _pins(lock)
    assert pins, f"{lock} pins nothing"
    unhashed = sorted(name for name, (_, hashes) in pins.items() if not hashes)
    assert not unhashed, f"{lock}: no hashes for {unhashed}"
    assert not LOCAL_PACKAGES & set(pins), f"{lock} pins a local package: an index would be asked for it"
    assert set(pins) >= BUILD_BACKEND
    for requirement in _direct_requirements(extras):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} lacks {requirement} (pyproject.toml asks for it): run make lock"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside {requirement}: run make lock"
        )


def test_the_developers_lock_runs_the_images_versions():
    image, developers = _pins("requirements.lock"), _pins("requirements-dev.lock")
    differ = {name: (pin[0], developers.get(name, ("missing",))[0]) for name, pin in image.items()}
    assert {name: v for name, v in differ.items() if v[0] != v[1]} == {}


def test_the_makefile_and_the_image_install_from_the_locks_and_the_checkout_only():
    makefile, dockerfile = (ROOT / "Makefile").read_text(), (ROOT / "Dockerfile").read_text()
    stamp_rule = re.search(r"^\$\(STAMP\):(.*)$", makefile, re.MULTILINE)
    assert stamp_rule and "$(DEV_LOCK)" in stamp_rule.group(1), "a changed lock must re-install"
    assert "pip install --require-hashes -r $(DEV_LOCK)" in makefile
    assert "pip install --no-deps --no-index --no-build-isolation -e ./clients/python" in makefile
    assert "pip install --require-hashes -r requirements.lock" in dockerfile
    assert "pip install --no-deps --no-index --no-build-isolation ./clients/python ." in dockerfile
    installs = [line for line in (makefile + dockerfile).splitlines() if re.search(r"\bpip install\b", line)]
    # Every install of relops or the client is one that never reaches an index.
    for line in installs:
        if "clients/python" in line or re.search(r"\s\.(\s|$|\[)|'\.\[", line):
            assert "--no-deps" in line and "--no-index" in line, line
