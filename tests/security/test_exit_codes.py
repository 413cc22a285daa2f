"""Class 8: with --detailed-exitcode, 2 only ever means "there are changes": a usage
error (unknown flag, bad value) exits 1, and every expected failure is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES, base_env, cli


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "--detailed-exitcode", "--no-such-flag"),
        ("plan", "--detailed-exitcode", "--format", "xml"),
        ("plan", "--detailed-exitcode", "--parallelism", "0"),
        ("apply", "--max-delete-share", "2"),
        ("no-such-command",),
    ],
)
def test_a_usage_error_exits_1_never_2(args: tuple[str, ...], tmp_path: Path) -> None:
    done = cli(*args, EXAMPLES, env=base_env(), cwd=tmp_path)

    assert done.returncode == 1, done.stderr
    assert "Error:" in done.stderr
    assert "Traceback" not in done.stderr
