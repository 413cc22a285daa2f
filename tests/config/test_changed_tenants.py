"""--changed-since: what a git change means for the plan's scope, measured from the merge
base (issue 21.1)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from t4o_reconcile.errors import WorkflowError
from t4o_reconcile.workflow import changed_tenants


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    tenants = tmp_path / "tenants"
    tenants.mkdir()
    for name in ("_defaults", "_agreements", "a", "b", "c"):
        (tenants / f"{name}.yaml").write_text(f"# {name}\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    return tmp_path


def test_the_change_is_measured_from_the_merge_base(repo: Path) -> None:
    base = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "-b", "pr")
    (repo / "tenants" / "a.yaml").write_text("# a, changed\n")
    git(repo, "commit", "-q", "-am", "a")
    git(repo, "checkout", "-q", "main")
    (repo / "tenants" / "b.yaml").write_text("# b, changed on main\n")
    git(repo, "commit", "-q", "-am", "b on main")
    git(repo, "checkout", "-q", "pr")

    change = changed_tenants(repo / "tenants", "main")

    # main's own change to b after the branch left it is not the pull request's.
    assert change.tenants == frozenset({"a"})
    assert change.base == base
    assert not change.agreements and change.deleted == frozenset()


def test_shared_files_and_deleted_files(repo: Path) -> None:
    (repo / "tenants" / "_agreements.yaml").write_text("# new number\n")
    (repo / "tenants" / "c.yaml").unlink()
    (repo / "tenants" / "b.yaml").rename(repo / "tenants" / "b.yml")
    change = changed_tenants(repo / "tenants", "HEAD")
    assert change.agreements and change.tenants == frozenset({"b"})
    assert change.deleted == frozenset({"c"})  # b moved to .yml: still managed

    (repo / "tenants" / "_defaults.yaml").write_text("# every tenant inherits this\n")
    assert changed_tenants(repo / "tenants", "HEAD").tenants is None


def test_unrelated_histories_are_one_clear_error(repo: Path) -> None:
    git(repo, "checkout", "-q", "--orphan", "other")
    git(repo, "commit", "-q", "-m", "unrelated")
    git(repo, "checkout", "-q", "main")
    with pytest.raises(WorkflowError, match="no common ancestor"):
        changed_tenants(repo / "tenants", "other")
