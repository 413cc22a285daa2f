"""The hash-pinned locks (requirements/*.lock) say exactly what pyproject.toml declares:
every package pinned with its sha256 hashes, every declared dependency present at a version
the declaration allows, and the tool that is tested the tool that is shipped (the runtime
pins the same in both locks)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.ci.workflows import REPO

RUNTIME = REPO / "requirements" / "runtime.lock"
DEV = REPO / "requirements" / "dev.lock"
_ENTRY = re.compile(
    r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>[^\s;\\]+)(?P<rest>[^\n]*(?:\n[ \t]+[^\n]*)*)", re.M
)


def entries(lock: Path) -> dict[str, tuple[str, list[str]]]:
    """name → (version, hashes)."""
    found: dict[str, tuple[str, list[str]]] = {}
    for match in _ENTRY.finditer(lock.read_text()):
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})\b", match.group("rest"))
        found[canonicalize_name(match.group("name"))] = (match.group("version"), hashes)
    return found


def declared(extra: str | None) -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    build = [Requirement(r) for r in project["build-system"]["requires"]]
    runtime = [Requirement(r) for r in project["project"]["dependencies"]]
    extras = project["project"]["optional-dependencies"].get(extra, []) if extra else []
    return [*build, *runtime, *(Requirement(r) for r in extras)]


def check(lock: Path, requirements: list[Requirement]) -> None:
    pinned = entries(lock)
    environment = {**default_environment(), "python_version": "3.11", "sys_platform": "linux"}
    for requirement in requirements:
        if requirement.marker and not requirement.marker.evaluate(environment):  # type: ignore[arg-type]
            continue
        name = canonicalize_name(requirement.name)
        assert name in pinned, f"{lock.name} lacks {requirement}: run make lock"
        version = pinned[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock.name} pins {name}=={version}, outside {requirement}: run make lock"
        )


def test_every_locked_package_is_pinned_with_hashes() -> None:
    for lock in (RUNTIME, DEV):
        text = lock.read_text()
        found = entries(lock)
        assert len(found) > 20, lock.name
        for name, (_, hashes) in found.items():
            assert hashes, f"{lock.name}: {name} has no sha256 hash"
        # Every requirement line is one of those entries (nothing unpinned slipped in).
        lines = [ln for ln in text.splitlines() if ln and not ln[0].isspace() and ln[0] != "#"]
        assert len(lines) == len(found), lock.name
        assert "pip-compile" in text.split("\n\n")[0], "the generator command heads the lock"


def test_the_locks_hold_every_declared_dependency_at_an_allowed_version() -> None:
    check(RUNTIME, declared(None))
    check(DEV, declared("dev"))
    # Building this project without isolation needs the build backend from the lock.
    assert "setuptools" in entries(RUNTIME) and "setuptools" in entries(DEV)


def test_the_tested_tool_is_the_shipped_tool() -> None:
    runtime, dev = entries(RUNTIME), entries(DEV)
    for name, (version, _) in runtime.items():
        assert dev[name][0] == version, f"{name}: {version} shipped, {dev[name][0]} tested"


def test_the_lock_check_can_fail(tmp_path: Path) -> None:
    lock = tmp_path / "x.lock"
    lock.write_text("click==8.1.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    with pytest.raises(AssertionError, match=r"outside click>=8\.2"):
        check(lock, [Requirement("click>=8.2")])
    with pytest.raises(AssertionError, match="lacks ijson>=3"):
        check(lock, [Requirement("ijson>=3")])
    check(lock, [Requirement("click>=8.1")])


def test_the_installs_check_the_hashes() -> None:
    makefile = (REPO / "Makefile").read_text()
    assert "--require-hashes --no-deps --only-binary=:all: -r" in makefile
    assert "$(LOCKED) requirements/dev.lock" in makefile
    assert "$(LOCKED) requirements/runtime.lock" in makefile
    assert "pip install --quiet -e" not in makefile
