"""The CI kits run nothing that a pull request controls, and hold what they hold only where
it is protected: each property checked on the shipped files' structure (issue 20 item 3,
issue 21 item 8), and zizmor's audit of the GitHub side as an independent check."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ci.workflows import GITHUB, GITLAB, REPO, commands, github_scripts, load

ACTION = REPO / "action.yml"
INSTALL = REPO / "scripts" / "ci" / "install.sh"
# The kit's own Action: the user pins it (docs/ci.md), since the kit cannot name the
# commit it is part of. Everything else is pinned here, by full commit SHA.
OWN_ACTION = "OWNER/t4o-reconcile@COMMIT_SHA"
_PINNED = re.compile(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}")
_VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\s*$")

# The least each job needs, and nothing more (GITHUB_TOKEN scopes).
PERMISSIONS = {
    ("t4o-plan.yml", "approval"): {"pull-requests": "read", "issues": "read", "actions": "read"},
    ("t4o-plan.yml", "plan"): {"contents": "read"},
    ("t4o-plan.yml", "comment"): {"pull-requests": "write"},
    ("t4o-apply.yml", "apply"): {
        "contents": "read",
        "actions": "read",
        "pull-requests": "read",
        "issues": "read",
    },
    ("t4o-apply.yml", "recovery-plan"): {"contents": "read"},
    ("t4o-apply.yml", "recovery-apply"): {"contents": "read"},
    ("t4o-apply.yml", "report"): {"pull-requests": "write", "statuses": "write"},
    ("t4o-drift.yml", "drift"): {"contents": "read"},
}
# Secrets a branch's own workflow may read (repository secrets): the read-only token only.
REPOSITORY_SECRETS = {"T4O_API_TOKEN_READONLY"}


def workflows() -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted(GITHUB.glob("*.yml")):
        yield path.name, load(path)


def jobs() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for name, workflow in workflows():
        for job_name, job in workflow["jobs"].items():
            yield name, job_name, job


def steps() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, job_name, job in jobs():
        for step in job["steps"]:
            yield f"{name}:{job_name}", step
    for step in load(ACTION)["runs"]["steps"]:
        yield "action.yml", step


def test_every_workflow_grants_nothing_by_default_and_each_job_the_least() -> None:
    for name, workflow in workflows():
        assert workflow["permissions"] == {}, name
        assert "pull_request_target" not in (GITHUB / name).read_text(), name
    found = {(name, job_name): job.get("permissions") for name, job_name, job in jobs()}
    assert found == PERMISSIONS


def test_every_checkout_keeps_no_credentials() -> None:
    checkouts = [
        (where, s) for where, s in steps() if s.get("uses", "").startswith("actions/checkout@")
    ]
    assert len(checkouts) == 5
    for where, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, where


def _uses_lines() -> Iterator[tuple[str, str]]:
    for path in [*sorted(GITHUB.glob("*.yml")), ACTION]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = re.match(r"\s*(?:-\s+)?uses:\s*(\S+)(.*)$", line)
            if match:
                yield f"{path.name}:{number}", match.group(1) + match.group(2)


def test_every_action_is_pinned_by_full_commit_sha_with_its_version() -> None:
    seen = []
    for where, text in _uses_lines():
        ref = text.split()[0]
        seen.append(ref)
        if ref == OWN_ACTION:
            continue
        assert _PINNED.fullmatch(ref), f"{where}: {ref} is not pinned by a full commit SHA"
        assert _VERSION_COMMENT.search(text), f"{where}: say the version the SHA is: # vX.Y.Z"
    # One install in each job that runs the tool or a script of scripts/ci.
    assert seen.count(OWN_ACTION) == 8
    assert any(ref.startswith("actions/setup-python@") for ref in seen)  # action.yml's


def test_the_pin_check_can_fail() -> None:
    assert not _PINNED.fullmatch("actions/checkout@v5")
    assert not _PINNED.fullmatch("actions/checkout@main")
    assert not _PINNED.fullmatch("actions/checkout@fbc6f39")
    assert _PINNED.fullmatch("actions/checkout@" + "a" * 40)


def test_the_tool_is_installed_only_by_the_pinned_action_outside_the_checkout() -> None:
    for name, job_name, job in jobs():
        texts = [s.get("run", "") for s in job["steps"]]
        assert not any(re.search(r"\bpip\b", t) for t in texts), f"{name}:{job_name} runs pip"
        runs_tool = any("t4o-reconcile " in t for t in texts)
        installs = [i for i, s in enumerate(job["steps"]) if s.get("uses") == OWN_ACTION]
        if runs_tool:
            first = next(i for i, t in enumerate(texts) if "t4o-reconcile " in t)
            assert installs and installs[0] < first, f"{name}:{job_name}"
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    install = action["runs"]["steps"][-1]
    assert install["env"]["VENV"] == "${{ runner.temp }}/t4o-reconcile-venv"
    assert install["env"]["SOURCE"] == "${{ github.action_path }}"
    script = INSTALL.read_text()
    assert "--require-hashes" in script and "--only-binary=:all:" in script
    assert "--no-index" in script and "requirements/runtime.lock" in script


# A Python interpreter in command position: at the start of a command (line, ;, &&, ||, |,
# $(, then, do), as a path or a variable, quoted or not, and the word after it.
_PYTHON = re.compile(
    r"""(?:^|[;&|(]|\bthen\b|\bdo\b)[ \t]*"""
    r"""("?(?:[^\s"'=]*python[\d.]*|\$\{?\w*PYTHON\}?)"?)(?=\s|$)([ \t]+\S+)?""",
    re.M,
)


def python_calls(text: str) -> list[tuple[str, str]]:
    """Each Python interpreter a script starts, with the argument after it."""
    return [(m.group(1).strip('"'), (m.group(2) or "").strip()) for m in _PYTHON.finditer(text)]


def all_scripts() -> Iterator[tuple[str, str]]:
    for script in github_scripts():
        yield script.where, script.text
    for where, step in steps():
        if where == "action.yml" and "run" in step:
            yield where, step["run"]
    pipeline = load(GITLAB)
    for name, job in pipeline.items():
        if isinstance(job, dict) and ("script" in job or name.startswith(".")):
            lines = job.get("script", []) if isinstance(job, dict) else []
            yield f".gitlab-ci.yml:{name}", "\n".join([*job.get("before_script", []), *lines])
    yield "scripts/ci/install.sh", INSTALL.read_text()


def test_every_python_the_kits_start_is_isolated() -> None:
    found = 0
    for where, text in all_scripts():
        for program, first in python_calls(text):
            found += 1
            assert first == "-I", f"{where}: {program} {first} runs without -I"
    assert found >= 5
    # What the tool itself starts (a worker process) inherits this: no `python -c` it
    # runs can put the checkout on sys.path either.
    for name, workflow in workflows():
        assert workflow["env"]["PYTHONSAFEPATH"] == "1", name
    assert load(GITLAB)["variables"]["PYTHONSAFEPATH"] == "1"


def test_the_isolation_check_can_fail() -> None:
    assert python_calls("python -m pip install x") == [("python", "-m")]
    assert python_calls('x && python3 -c "import json"') == [("python3", "-c")]
    assert python_calls('"$T4O_PYTHON" script.py') == [("$T4O_PYTHON", "script.py")]
    assert python_calls("echo pythonic") == []
    assert python_calls('echo "python=$VENV/bin/python"') == []
    assert python_calls('"$venv/bin/python" -I -m pip') == [("$venv/bin/python", "-I")]


def test_no_output_is_written_into_the_checkout() -> None:
    for script in github_scripts():
        for args in commands(script.text):
            for flag in ("--out", "--report", "--comment-dir", "--reviewed"):
                if flag in args:
                    value = args[args.index(flag) + 1]
                    assert value.startswith(("$out/", "$RUNNER_TEMP/")), f"{script.where}: {value}"
        if "out=" in script.text:
            assert 'out="$RUNNER_TEMP/t4o"' in script.text, script.where


def test_writing_tokens_and_secret_values_live_only_in_protected_environments() -> None:
    for name, job_name, job in jobs():
        text = str(job)
        used = set(re.findall(r"secrets\.(\w+)", text))
        if used - REPOSITORY_SECRETS:
            assert job.get("environment") in {"production", "drift", "t4o-recovery"}, (
                f"{name}:{job_name}"
            )
    apply = load(GITHUB / "t4o-apply.yml")["jobs"]["apply"]
    assert apply["environment"] == "production"
    assert "secrets.T4O_API_TOKEN }}" in (GITHUB / "t4o-apply.yml").read_text()
    drift = load(GITHUB / "t4o-drift.yml")["jobs"]["drift"]
    assert drift["environment"] == "drift"
    assert "secrets.T4O_SECRETS_FILE" in (GITHUB / "t4o-drift.yml").read_text()


def test_the_apply_takes_the_plan_only_through_the_provenance_check() -> None:
    apply = load(GITHUB / "t4o-apply.yml")["jobs"]["apply"]["steps"]
    ids = [s.get("id") for s in apply]
    reviewed = apply[ids.index("reviewed")]
    assert 'python" -I "$T4O_CI_SCRIPTS/reviewed_plan.py" github' in reviewed["run"].replace(
        "$T4O_PYTHON", "python"
    )
    download = next(s for s in apply if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"]["artifact-ids"] == "${{ steps.reviewed.outputs.artifact-id }}"
    assert download["with"]["run-id"] == "${{ steps.reviewed.outputs.run-id }}"
    assert "name" not in download["with"]
    assert download["with"]["path"] == "${{ runner.temp }}/reviewed"
    assert ids.index("reviewed") < apply.index(download) < ids.index("plan")


def gitlab_jobs() -> dict[str, dict[str, Any]]:
    return {n: j for n, j in load(GITLAB).items() if n.startswith("t4o-")}


def test_gitlab_protected_variables_only_on_the_default_branch() -> None:
    protected = ('$T4O_API_TOKEN"', "T4O_SECRETS_FILE", "T4O_GITLAB_READ_TOKEN", "report.py")
    for name, job in gitlab_jobs().items():
        text = "\n".join([*job["script"]])
        holds = [v for v in protected if v in text] or (
            ["reviewed_plan.py"] if "reviewed_plan.py" in text else []
        )
        on_default = all("$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in r["if"] for r in job["rules"])
        if holds:
            assert on_default, f"{name} uses {holds} outside the default branch"
            environment = job.get("environment")
            if isinstance(environment, dict):  # the report job: access, not a deployment
                environment = environment["name"]
            assert environment in {"production", "drift", "t4o-recovery"}, name
        if any("merge_request_event" in r["if"] for r in job["rules"]):
            # Merge request pipelines: nothing that can write, to the API or to GitLab.
            assert not holds, name
            assert "PRIVATE-TOKEN" not in text and "GITLAB" not in text, name
    assert "T4O_GITLAB_TOKEN" not in GITLAB.read_text()  # the old api-scoped token is gone


def test_gitlab_fixes_the_secrets_file_mode_before_use() -> None:
    for name, job in gitlab_jobs().items():
        script = job["script"]
        users = [i for i, line in enumerate(script) if "t4o-reconcile " in line]
        if name in {"t4o-apply", "t4o-drift", "t4o-recovery-plan", "t4o-recovery-apply"}:
            assert script[0] == 'chmod 600 "$T4O_SECRETS_FILE"', name
            assert users and users[0] > 0
        else:
            assert not any("T4O_SECRETS_FILE" in line for line in script), name


def test_gitlab_installs_a_pinned_commit_with_hash_checked_dependencies() -> None:
    pipeline = load(GITLAB)
    install = pipeline[".install"]
    text = "\n".join(install)
    assert pipeline["variables"]["T4O_RECONCILE_COMMIT"] == "COMMIT_SHA"
    assert "grep -Eqx '[0-9a-f]{40}'" in text
    assert 'test "$(git -C "$T4O_HOME/src" rev-parse HEAD)" = "$T4O_RECONCILE_COMMIT"' in text
    assert 'bash "$T4O_HOME/src/scripts/ci/install.sh" "$T4O_HOME/venv"' in text
    assert not re.search(r"\bpip\b", text)
    for name, job in gitlab_jobs().items():
        assert job["before_script"] == install, name


def zizmor() -> str:
    local = Path(sys.executable).parent / "zizmor"
    found = str(local) if local.exists() else shutil.which("zizmor")
    if found is None:
        pytest.fail("zizmor is missing: make install-dev installs it (the dev extras)")
    return found


def audit(
    tmp_path: Path, replace: tuple[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """zizmor's offline audit of the kit as a user has it: in .github/workflows, with the
    Action pinned (here to a made-up SHA), and this repository's action.yml."""
    workflows_dir = tmp_path / "repo" / ".github" / "workflows"
    workflows_dir.mkdir(parents=True)
    for path in GITHUB.glob("*.yml"):
        text = path.read_text().replace(OWN_ACTION, "owner/t4o-reconcile@" + "1" * 40 + " # v0.1.0")
        if replace:
            text = text.replace(*replace)
        (workflows_dir / path.name).write_text(text)
    shutil.copy(ACTION, tmp_path / "repo" / "action.yml")
    return subprocess.run(
        [zizmor(), "--offline", "--no-progress", "--format", "plain", str(tmp_path / "repo")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "NO_COLOR": "1"},
    )


def test_zizmor_finds_nothing_in_the_kit(tmp_path: Path) -> None:
    done = audit(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("spoil", "audit_name"),
    [
        (("persist-credentials: false", "clean: true"), "artipacked"),
        (
            ("actions/checkout@fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09", "actions/checkout@v5"),
            "unpinned-uses",
        ),
        (
            (
                "    permissions:\n      contents: read\n    steps:",
                "    permissions: write-all\n    steps:",
            ),
            "excessive-permissions",
        ),
    ],
    ids=["credentials-kept", "unpinned", "write-all"],
)
def test_zizmor_would_catch_a_spoiled_kit(
    tmp_path: Path, spoil: tuple[str, str], audit_name: str
) -> None:
    done = audit(tmp_path, spoil)
    assert done.returncode != 0
    assert audit_name in done.stdout + done.stderr


def test_the_workflows_read_only_outputs_the_action_sets() -> None:
    outputs = set(load(ACTION)["outputs"])
    used = set()
    for path in GITHUB.glob("*.yml"):
        used |= set(re.findall(r"steps\.t4o\.outputs\.([\w-]+)", path.read_text()))
    assert used and used <= outputs
    install = load(ACTION)["runs"]["steps"][-1]["run"]
    for name in outputs:
        assert f'echo "{name}=' in install, name


def test_the_install_script_refuses_a_wrong_call(tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(INSTALL)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("usage: ")
    assert list(tmp_path.iterdir()) == []


def test_approvals_come_from_the_api_never_from_the_event_or_the_artifact() -> None:
    plan = load(GITHUB / "t4o-plan.yml")["jobs"]
    step = next(s for s in plan["plan"]["steps"] if s.get("id") == "plan")
    assert step["env"]["ALLOW_DELETES"] == "${{ needs.approval.outputs.approved }}"
    assert "approval.py" in plan["approval"]["steps"][-1]["run"]
    assert "labels" not in (GITHUB / "t4o-plan.yml").read_text().split("jobs:", 1)[1]
    assert "github-script" not in (GITHUB / "t4o-plan.yml").read_text()
    apply = load(GITHUB / "t4o-apply.yml")["jobs"]["apply"]["steps"]
    ids = [s.get("id") for s in apply]
    assert ids.index("reviewed") < ids.index("approval") < ids.index("plan")
    for step_id in ("plan", "apply"):
        env = apply[ids.index(step_id)]["env"]
        assert env["ALLOW_DELETES"] == "${{ steps.approval.outputs.approved }}", step_id


def test_the_recovery_applies_only_this_runs_sealed_plan_after_an_environment_approval() -> None:
    workflow = load(GITHUB / "t4o-apply.yml")
    assert "workflow_dispatch" in workflow["on"]
    assert set(workflow["on"]["workflow_dispatch"]["inputs"]) == {"tenants", "allow-deletes"}
    jobs = workflow["jobs"]
    assert jobs["apply"]["if"] == "${{ github.event_name == 'push' }}"
    plan, apply = jobs["recovery-plan"], jobs["recovery-apply"]
    assert "workflow_dispatch" in plan["if"] and "refs/heads/main" in plan["if"]
    assert plan["environment"] == "production"
    assert apply["needs"] == "recovery-plan" and apply["environment"] == "t4o-recovery"
    planned = next(s for s in plan["steps"] if s.get("id") == "recovery-plan")["run"]
    assert '--out "$out/recovery.plan"' in planned and "--without-secrets" not in planned
    assert 'show "$out/recovery.plan" --format markdown >> "$GITHUB_STEP_SUMMARY"' in planned
    download = next(s for s in apply["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"] == {
        "name": "t4o-recovery-${{ github.run_id }}",
        "path": "${{ runner.temp }}/recovery",
    }  # no run-id, no github-token: this run's artifact only
    # The tenant list reaches the script as data (env), checked against the slug shape.
    assert "inputs.tenants" not in planned
    assert "grep -Eqx '[a-z0-9][a-z0-9-]{0,62}'" in planned


def test_the_report_job_holds_no_api_token_and_no_secret() -> None:
    report = load(GITHUB / "t4o-apply.yml")["jobs"]["report"]
    assert "secrets." not in str(report)
    assert "environment" not in report
    assert "actions/checkout" not in str(report)
    assert "report.py" in report["steps"][-1]["run"]


def test_gitlab_recovery_is_two_manual_jobs_and_the_apply_in_a_protected_environment() -> None:
    jobs = gitlab_jobs()
    plan, apply = jobs["t4o-recovery-plan"], jobs["t4o-recovery-apply"]
    for job in (plan, apply):
        (rule,) = job["rules"]
        assert rule["when"] == "manual"
        assert '$CI_PIPELINE_SOURCE == "web"' in rule["if"]
    assert plan["environment"] == "production"
    assert apply["environment"] == "t4o-recovery"
    assert apply["needs"] == [{"job": "t4o-recovery-plan", "artifacts": True}]
    assert apply["resource_group"] == "t4o-apply"
    assert any("--plan .t4o-out/recovery.plan" in line for line in apply["script"])
    merge = "\n".join(jobs["t4o-apply"]["script"])
    assert 'approval.py" gitlab --project' in merge and "--approval-out" in merge
    assert "reviewed_plan.py" in merge and "--approval-out" not in merge.split("approval.py")[0]
    report = jobs["t4o-report"]
    assert report["rules"][0]["when"] == "always"
    assert report["needs"] == [{"job": "t4o-apply", "artifacts": True}]
