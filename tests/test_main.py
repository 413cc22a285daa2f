"""The process's entry (``python -m t4o_reconcile``, ``t4o-reconcile``): it leaves without
tearing the interpreter down, and loses nothing by it: the exit status, what was written
to stdout and stderr (to a pipe or a file), and what the exit handlers do."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from t4o_reconcile.__main__ import _code


def _entry(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "t4o_reconcile", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "T4O_SANDBOX_DB": str(cwd / "sandbox.db")},
        timeout=120,
    )


def test_the_exit_status_and_both_streams_come_through(tmp_path: Path) -> None:
    version = _entry("--version", cwd=tmp_path)
    assert (version.returncode, version.stdout.startswith("t4o-reconcile, version")) == (0, True)

    missing = _entry("validate", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 1
    assert "nowhere:1:1" in missing.stderr and "1 problem(s) in 1 file(s)." in missing.stderr

    usage = _entry("plan", "--no-such-flag", cwd=tmp_path)
    assert usage.returncode == 1 and "No such option '--no-such-flag'" in usage.stderr


def test_output_to_a_file_is_written_whole(tmp_path: Path) -> None:
    """A file's buffer is flushed before the process leaves: ``--help`` to a file, and the
    JSON findings of a large directory, arrive complete."""
    for n in range(300):
        (tmp_path / f"club-{n:03d}.yaml").write_text(f"slug: club-{n:03d}\nname: [unclosed\n")
    out = tmp_path / "findings.json"
    with out.open("w") as handle:
        done = subprocess.run(
            [sys.executable, "-m", "t4o_reconcile", "validate", str(tmp_path), "--format", "json"],
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
    assert done.returncode == 1, done.stderr
    text = out.read_text()
    assert text.count("club-") >= 300 and text.rstrip().endswith(("]", "}")), text[-200:]


def test_the_exit_handlers_still_run(tmp_path: Path) -> None:
    """Coverage, logging and multiprocessing rely on them."""
    script = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('handler ran', file=sys.stderr))\n"
        "sys.argv = ['t4o-reconcile', '--version']\n"
        "from t4o_reconcile.__main__ import run\n"
        "run()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 0 and "handler ran" in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("code", "status"), [(None, 0), (0, 0), (2, 2), (7, 7), (256 + 3, 3), ("a message", 1)]
)
def test_an_exit_code_becomes_the_status_sys_exit_would_give(code: object, status: int) -> None:
    assert _code(code) == status
