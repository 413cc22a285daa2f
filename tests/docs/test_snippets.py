"""Every shell snippet in the README and the docs runs as written.

Each page's ```sh blocks run one after the other in one bash (a page such as the tutorial
builds on its earlier blocks), with `set -euo pipefail`, in a fresh copy of the
repository's files, with the installed CLI on PATH and none of the operator's T4O_* or CI
settings. The README's two `make` commands are the exception: `make test` is the command
that runs this test, and `make demo` is `make install` and `scripts/demo.sh`, which
test_demo_script runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("**/*.md")],
)
FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[a-z]*)\n(?P<body>.*?)^(?P=indent)```$", re.M | re.S
)
MAKE_LINE = re.compile(r"^make (?P<target>[a-z-]+)\b")
COPIED = ("examples", "schemas", "scripts", "Makefile")

pytestmark = pytest.mark.e2e


def shell_blocks(text: str) -> list[tuple[int, str]]:
    """The ```sh blocks of a page: the line each starts on, and its code, dedented."""
    blocks = []
    for match in FENCE.finditer(text):
        if match["lang"] not in ("sh", "bash", "shell"):
            continue
        indent = len(match["indent"])
        code = "".join(line[indent:] + "\n" for line in match["body"].splitlines())
        blocks.append((text.count("\n", 0, match.start()) + 1, code))
    return blocks


def _pages_with_snippets() -> list[Path]:
    return [p for p in PAGES if p.exists() and shell_blocks(p.read_text(encoding="utf-8"))]


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("T4O_", "GITHUB_", "GITLAB_")) and k not in ("CI", "NO_COLOR")
    }
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["HOME"] = str(home)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    return env


def _repository_copy(tmp_path: Path) -> Path:
    """What a user has after cloning (``COPIED``), beside an empty home directory."""
    work = tmp_path / "repo"
    work.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, work / name)
        else:
            shutil.copy2(source, work / name)
    (tmp_path / "home").mkdir()
    return work


def test_the_pages_have_snippets() -> None:
    # A guard against a fence pattern that silently matches nothing.
    names = {p.name for p in _pages_with_snippets()}
    assert {"README.md", "tutorial.md"} <= names


@pytest.mark.parametrize("page", _pages_with_snippets(), ids=lambda p: p.name)
def test_snippets_run_as_written(page: Path, tmp_path: Path) -> None:
    work = _repository_copy(tmp_path)
    script = ["set -euo pipefail"]
    for line, code in shell_blocks(page.read_text(encoding="utf-8")):
        lines = [ln for ln in code.splitlines() if ln.strip()]
        if lines and all(MAKE_LINE.match(ln) for ln in lines):
            for ln in lines:
                target = MAKE_LINE.match(ln)
                assert target is not None
                dry = subprocess.run(
                    ["make", "-n", "-C", str(ROOT), target["target"]],
                    capture_output=True,
                    text=True,
                )
                assert dry.returncode == 0, f"{page.name}:{line}: {ln}: {dry.stderr}"
            continue
        script.append(f"echo '--- {page.name}:{line}' >&2")
        script.append(code)
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=work,
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (
        f"{page.name}: a snippet failed (exit {done.returncode})\n"
        f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
    )
    assert "Traceback" not in done.stderr


def test_demo_script(tmp_path: Path) -> None:
    """`make demo` is `make install` then this script: the whole loop on the examples."""
    work = _repository_copy(tmp_path)
    done = subprocess.run(
        ["bash", "scripts/demo.sh", str(Path(sys.executable).parent)],
        cwd=work,
        env=_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_cli_reference_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "cli_reference.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
