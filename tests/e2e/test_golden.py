"""The exact output of `plan` in its three formats, for the examples against (a) a fresh
sandbox and (b) a sandbox holding a different configuration, so that every kind of action
shows: create, update (plain and sensitive), delete (some needing --allow-deletes), move,
an agreement to change and one to delete, and an unmanaged tenant.

The expected outputs live in tests/e2e/golden/; the port and the token's tail are masked.
After an intended change of the output, regenerate them with

    UPDATE_GOLDEN=1 python -m pytest tests/e2e/test_golden.py

and review the diff like any other change."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES, Server, cli, sandbox_process
from tests.e2e.helpers import divergent_env, make_divergent, normalise_output

pytestmark = pytest.mark.e2e

GOLDEN = Path(__file__).parent / "golden"
FORMATS = {"text": "txt", "markdown": "md", "json": "json"}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working directory holding the examples as `tenants/`, so that the paths the
    plan prints are the same on every machine."""
    folder = tmp_path_factory.mktemp("golden")
    shutil.copytree(EXAMPLES, folder / "tenants")
    return folder


@pytest.fixture(scope="module")
def fresh(workdir: Path) -> Iterator[Server]:
    with sandbox_process(workdir / "fresh.db") as running:
        yield running


@pytest.fixture(scope="module")
def divergent(workdir: Path) -> Iterator[Server]:
    other = workdir / "divergent"
    other.mkdir()
    shutil.copytree(EXAMPLES, other / "tenants")
    make_divergent(other / "tenants")
    with sandbox_process(workdir / "divergent.db") as running:
        applied = cli("apply", "tenants", "--auto-approve", env=divergent_env(running), cwd=other)
        assert applied.returncode == 0, applied.stderr
        yield running


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(actual)
        return
    assert path.exists(), f"{path} is missing: run UPDATE_GOLDEN=1 pytest {__file__}"
    expected = path.read_text()
    assert actual == expected, f"the output differs from {path}"


def planned(server: Server, workdir: Path, fmt: str) -> str:
    done = cli("plan", "tenants", "--format", fmt, env=server.env(), cwd=workdir)
    assert done.returncode == 0, done.stderr
    return normalise_output(done.stdout, server)


@pytest.mark.parametrize("fmt", FORMATS)
def test_plan_of_the_examples_against_a_fresh_sandbox(
    fresh: Server, workdir: Path, fmt: str
) -> None:
    check_golden(f"fresh.{FORMATS[fmt]}", planned(fresh, workdir, fmt))


@pytest.mark.parametrize("fmt", FORMATS)
def test_plan_of_the_examples_against_a_sandbox_holding_another_configuration(
    divergent: Server, workdir: Path, fmt: str
) -> None:
    check_golden(f"divergent.{FORMATS[fmt]}", planned(divergent, workdir, fmt))


def test_the_divergent_plan_holds_every_kind_of_action() -> None:
    """Guards the golden file itself: it must keep covering every kind of action."""
    text = (GOLDEN / "divergent.txt").read_text()
    for marker in ("\n  + ", "\n  ~ ", "\n  - ", "\n  → ", "(sensitive, changed)"):
        assert marker in text, marker
    assert "needs approval (pass --allow-deletes to plan and apply)" in text
    assert "Unmanaged tenants" in text


def test_ci_wording_through_plan_and_show_and_no_part_of_the_token(
    divergent: Server, workdir: Path
) -> None:
    """plan --format markdown and show (--comment-dir too) with --approval-label and
    --approved-by, against a serve process: the label, never the flag, and who approved,
    escaped; and no part of the token in any output or in the plan file."""
    cwd = workdir
    env = divergent.env()
    ci = ("--approval-label", "t4o:allow-deletes")
    by = ("--approved-by", "<b>octocat</b> at 2026-12-07T10:00:00Z")
    plan_file = cwd / "ci.plan"
    done = cli("plan", "tenants", "--format", "markdown", "--out", str(plan_file), *ci, env=env,
               cwd=cwd)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "### ⚠️ Needs approval: add the label `t4o:allow-deletes`" in done.stdout
    assert "--allow-deletes`" not in done.stdout
    shown = cli("show", str(plan_file), "--format", "markdown", *ci, *by, env=env, cwd=cwd)
    assert shown.returncode == 0, shown.stderr
    assert (
        "### ✅ Approved by &#60;b&#62;octocat&#60;/b&#62; at 2026-12-07T10:00:00Z" in shown.stdout
    )
    assert "<b>" not in shown.stdout
    parts = cwd / "comment"
    wrote = cli("show", str(plan_file), "--comment-dir", str(parts), *ci, env=env, cwd=cwd)
    assert wrote.returncode == 0, wrote.stderr
    comment = (parts / "part-001.md").read_text()
    assert "add the label `t4o:allow-deletes`" in comment and "### 🔐 Sensitive changes" in comment
    terminal = cli("show", str(plan_file), env=env, cwd=cwd)
    assert "Needs approval (pass --allow-deletes to plan and apply): ok-skogen" in terminal.stdout
    token = divergent.token
    outputs = [done.stdout, shown.stdout, comment, terminal.stdout, plan_file.read_text()]
    outputs += [cli("plan", "tenants", "--format", "json", env=env, cwd=cwd).stdout]
    for output in outputs:
        assert token[-4:] not in output and token[:8] not in output and "token …" not in output
