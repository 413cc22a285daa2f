"""Class 2: git runs only on the operator's repository. A pull request writes the tenant
tree, so nothing in it may choose which repository git opens, run a command through git's
configuration, or slip an option in through ``--changed-since``."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES, Server, cli, module_server

pytestmark = pytest.mark.e2e

__all__ = ["module_server"]

_WHO = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(where: Path, *args: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    done = subprocess.run(
        ["git", *args],
        cwd=where,
        env={**clean, **_WHO, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def team_repository(tmp_path: Path) -> Path:
    """A repository as CI checks it out: the examples in ``tenants/``, committed."""
    work = tmp_path / "team"
    (work / "tenants").mkdir(parents=True)
    for path in EXAMPLES.glob("*.yaml"):
        (work / "tenants" / path.name).write_text(path.read_text())
    git(work, "init", "-q", "-b", "main")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "tenants")
    return work


def plant_fake_repository(where: Path, canary: Path) -> str:
    """Make ``where`` a repository-shaped directory (HEAD, objects, refs, config) whose
    config runs a command through core.fsmonitor, as a pull request can commit it; the
    fake repository's own commit is returned."""
    where.mkdir(parents=True, exist_ok=True)
    (where / "objects").mkdir()
    (where / "refs" / "heads").mkdir(parents=True)
    (where / "HEAD").write_text("ref: refs/heads/main\n")
    fake = {"GIT_DIR": str(where)}
    tree = git(where, "mktree", **fake)
    commit = git(where, "commit-tree", "-m", "not the team's commit", tree, **fake)
    (where / "refs" / "heads" / "main").write_text(commit + "\n")
    (where / "config").write_text(
        "[core]\n"
        "\trepositoryformatversion = 0\n"
        "\tbare = false\n"
        "\tworktree = .\n"
        f'\tfsmonitor = "touch {canary}; false"\n'
    )
    return commit


def _plan_file(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(path.read_text().splitlines()[0])
    return loaded


@pytest.mark.parametrize("inside", [".", "evil"], ids=["tenants-itself", "a-subfolder"])
def test_a_committed_repository_in_the_tenant_tree_runs_nothing_and_is_named(
    module_server: Server, tmp_path: Path, inside: str
) -> None:
    work = team_repository(tmp_path)
    canary = tmp_path / "fsmonitor-ran"
    fake = work / "tenants" / inside
    plant_fake_repository(fake, canary)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "a pull request")
    saved = work / "tenants.plan"

    runs = [
        cli("plan", "tenants", "--changed-since", "HEAD", env=module_server.env(), cwd=work),
        cli("plan", "tenants", "--out", saved, env=module_server.env(), cwd=work),
        # From inside the tenant tree too: the repository is never found from there.
        cli("plan", ".", "--changed-since", "HEAD", env=module_server.env(), cwd=work / "tenants"),
    ]

    assert not canary.exists(), "git ran the fake repository's fsmonitor command"
    named = "tenants" if inside == "." else "tenants/evil"
    for done in runs:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1, done.stderr
        assert "is a git repository inside the tenant tree" in errors[0]
    assert f"Error: {named}: " in runs[0].stderr
    assert not saved.exists()  # nothing recorded: not the fake commit, not any


def test_changed_since_takes_only_a_commit_never_an_option(
    module_server: Server, tmp_path: Path
) -> None:
    work = team_repository(tmp_path)
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched\n")

    refused = [
        cli(
            "plan", "tenants", f"--changed-since=--output={victim}", env=module_server.env(),
            cwd=work,
        ),
        cli("plan", "tenants", "--changed-since", f"--output={victim}", env=module_server.env(),
            cwd=work),
        # A tree and a blob are objects, not commits.
        cli("plan", "tenants", "--changed-since", "HEAD^{tree}", env=module_server.env(), cwd=work),
        cli("plan", "tenants", "--changed-since", "HEAD:tenants/ok-skogen.yaml",
            env=module_server.env(), cwd=work),
    ]  # fmt: skip

    assert victim.read_text() == "untouched\n"
    for done in refused:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith("Error: --changed-since: "), lines[0]
        assert "expected a commit" in lines[0], lines[0]
        assert done.stdout == ""


def test_the_plan_records_the_operators_commit(module_server: Server, tmp_path: Path) -> None:
    work = team_repository(tmp_path)
    ours = git(work, "rev-parse", "HEAD")
    # A linked worktree (.git is a file there) on a commit of its own.
    linked = tmp_path / "linked"
    git(work, "worktree", "add", "-q", "-b", "other", str(linked))
    (linked / "README").write_text("other\n")
    git(linked, "add", "README")
    git(linked, "commit", "-q", "-m", "other")
    theirs = git(linked, "rev-parse", "HEAD")
    # An inherited GIT_DIR (or GIT_WORK_TREE) names another repository: not the one
    # the operator named by the tenant directory.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    git(elsewhere, "init", "-q")
    git(elsewhere, "commit", "-q", "--allow-empty", "-m", "elsewhere")
    env = module_server.env(GIT_DIR=str(elsewhere / ".git"), GIT_WORK_TREE=str(elsewhere))

    in_work = cli("plan", "tenants", "--out", "a.plan", env=env, cwd=work)
    by_path = cli("plan", work / "tenants", "--out", tmp_path / "b.plan", env=env, cwd=tmp_path)
    in_linked = cli("plan", "tenants", "--out", "c.plan", env=env, cwd=linked)

    for done in (in_work, by_path, in_linked):
        assert done.returncode == 0, done.stderr
    assert _plan_file(work / "a.plan")["commit"] == ours
    assert _plan_file(tmp_path / "b.plan")["commit"] == ours
    assert _plan_file(linked / "c.plan")["commit"] == theirs


def test_changed_since_still_sees_the_changed_files(module_server: Server, tmp_path: Path) -> None:
    work = team_repository(tmp_path)
    (work / "tenants" / "kartverkstedet.yaml").unlink()
    ok = work / "tenants" / "ok-skogen.yaml"
    ok.write_text(ok.read_text().replace("name: OK Skogen\n", "name: OK Skogen IL\n", 1))

    done = cli(
        "plan", "tenants", "--changed-since", "HEAD", "--format", "json",
        env=module_server.env(), cwd=work,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["targeted"]["tenants"] == ["ok-skogen"]
    assert document["commit"] == git(work, "rev-parse", "HEAD")


def test_every_shape_of_repository_in_the_tenant_tree_is_named(tmp_path: Path) -> None:
    from t4o_reconcile.gitrepo import Location, nested_repositories

    tenants = tmp_path / "tenants"
    (tenants / "a").mkdir(parents=True)
    (tenants / "a" / ".git").write_text("gitdir: /elsewhere\n")  # a gitfile
    (tenants / "b" / ".git").mkdir(parents=True)
    (tenants / "c").mkdir()
    for name in ("HEAD", "commondir"):  # a linked worktree's git directory
        (tenants / "c" / name).write_text("x\n")
    (tenants / "deep" / "d" / "objects").mkdir(parents=True)
    (tenants / "deep" / "d" / "refs").mkdir()
    (tenants / "deep" / "d" / "HEAD").write_text("ref: refs/heads/main\n")
    # Neither a lone HEAD nor a link to a repository elsewhere is one git would open here.
    (tenants / "e").mkdir()
    (tenants / "e" / "HEAD").write_text("x\n")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".git").mkdir(parents=True)
    (tenants / "f").symlink_to(elsewhere)

    found = nested_repositories(Location(Path("tenants"), tenants, tmp_path))

    assert found == [
        Path("tenants/a/.git"),
        Path("tenants/b/.git"),
        Path("tenants/c"),
        Path("tenants/deep/d"),
    ]


def test_the_repositorys_own_git_directory_is_not_nested(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from t4o_reconcile.gitrepo import locate, nested_repositories

    work = team_repository(tmp_path)
    monkeypatch.chdir(work)

    location = locate(Path("."))

    assert location.root == work.resolve()
    assert location.tenants == work.resolve()
    assert nested_repositories(location) == []
