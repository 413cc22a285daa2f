"""The kit's own steps and scripts against a `serve` process and the stand-in of GitHub's
REST API (issue 21 items 2, 3 and 6):

- a pull request with a delete that needs approval: the check fails with exit 3 and names
  the label; the author's own label does not count; a maintainer's does, and the check
  passes; the comment (posted by scripts/ci/comment.py) says who approved and when;
- the merge reads the approval again from the pull request, applies, and the pull request
  gets "N change(s) applied at SHA" and the commit the status t4o-reconcile/apply;
- a merge whose apply fails half-way: the report says so, with the way back; the recovery
  run's two steps (recovery-plan, recovery-apply) bring live to main from that state, also
  through a flaky API; a sealed recovery plan that went stale is refused, and a new run
  converges.

The workflows' `run:` scripts are executed by bash as GitHub would; what GitHub does
around them (artifacts, the event) is done here with file copies."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ci.forge_standin import (
    GITHUB_TOKEN,
    OWNER,
    REPO,
    Forge,
    github_label_event,
    github_pull,
    github_pull_request,
    github_run,
    serve,
)
from tests.ci.workflows import REPO as SOURCE
from tests.e2e.conftest import EXAMPLES, Server, cli, sandbox_process
from tests.e2e.helpers import TAKEN_NUMBER, edit_tenant, live_state, other_partner_holds
from tests.e2e.test_ci_loop import Runner, git, secrets_file_content

pytestmark = pytest.mark.e2e

SCRIPTS = SOURCE / "scripts" / "ci"
LABEL = "t4o:allow-deletes"
RUN_URL = f"https://github.com/{OWNER}/{REPO}/actions/runs/77"
RECOVERY_URL = f"https://github.com/{OWNER}/{REPO}/actions/workflows/t4o-apply.yml"
PLAN_WORKFLOW = ".github/workflows/t4o-plan.yml"


@pytest.fixture
def forge() -> Iterator[Forge]:
    with serve(Forge()) as running:
        yield running


def script(forge: Forge, runner: Runner, name: str, *args: str) -> dict[str, str]:
    """A scripts/ci script as the jobs run it (python -I, the Action's Python); its
    GITHUB_OUTPUT as a dict."""
    output = runner.tmp / "script_output"
    output.write_text("")
    done = subprocess.run(
        [sys.executable, "-I", str(SCRIPTS / name), *args],
        cwd=runner.work,
        env={
            "PATH": "/usr/bin:/bin",
            "GITHUB_API_URL": forge.url,
            "GITHUB_TOKEN": GITHUB_TOKEN,
            "GITHUB_OUTPUT": str(output),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return dict(line.split("=", 1) for line in output.read_text().splitlines())


def team(server: Server, tmp_path: Path) -> tuple[Runner, str]:
    work = tmp_path / "team"
    (work / "tenants").mkdir(parents=True)
    for path in EXAMPLES.glob("*.yaml"):
        shutil.copy(path, work / "tenants" / path.name)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "tenants")
    first = cli("apply", work / "tenants", "--auto-approve", env=server.env())
    assert first.returncode == 0, first.stderr
    return Runner(server, work, tmp_path), server.read_only_token()


def check(runner: Runner, reader: str, approval: dict[str, str]) -> Any:
    """The pull-request job's plan and its failing step, with the approval job's outputs."""
    planned = runner.run(
        "t4o-plan.yml",
        "plan",
        T4O_API_TOKEN=reader,
        ALLOW_DELETES=approval["approved"],
        BASE_SHA=git(runner.work, "rev-parse", "main").strip(),
    )
    assert planned.returncode == 0, planned.stderr
    status = runner.outputs["status"]
    if status in ("0", "2"):  # the step's `if`: it does not run, and the check passes
        return status, None
    return status, runner.run("t4o-plan.yml", "gate", STATUS=status, WHY=approval["why"])


def secrets_env(runner: Runner) -> dict[str, str]:
    return {
        "T4O_API_TOKEN": runner.server.token,
        "T4O_SECRETS_FILE_CONTENT": secrets_file_content(),
    }


def merge_job(runner: Runner, forge: Forge, artifact: Path, commit: str) -> dict[str, str]:
    """The merge job: the reviewed plan, the approval read again, plan and apply; then the
    report job. Returns the approval it read."""
    (runner.tmp / "t4o").mkdir(exist_ok=True)
    for old in ("apply.json", "steps.log", "merged.plan"):
        (runner.tmp / "t4o" / old).unlink(missing_ok=True)
    reviewed = runner.tmp / "reviewed"
    shutil.rmtree(reviewed, ignore_errors=True)
    reviewed.mkdir()
    shutil.copy(artifact, reviewed / "tenants.plan")
    approval = script(forge, runner, "approval.py", "github", "--repo", f"{OWNER}/{REPO}",
                      "--commit", commit, "--workflow", PLAN_WORKFLOW)  # fmt: skip
    env = {**secrets_env(runner), "ALLOW_DELETES": approval["approved"]}
    if runner.run("t4o-apply.yml", "plan", **env).returncode == 0:
        runner.run("t4o-apply.yml", "apply", **env)
    script(forge, runner, "report.py", "github", "--repo", f"{OWNER}/{REPO}", "--commit",
           commit, "--report", str(runner.tmp / "t4o" / "apply.json"),
           "--log", str(runner.tmp / "t4o" / "steps.log"), "--run-url", RUN_URL,
           "--recovery-url", RECOVERY_URL)  # fmt: skip
    return approval


def recovery_env(runner: Runner) -> dict[str, str]:
    return {**secrets_env(runner), "T4O_PLAN_KEY": "", "TENANTS": "", "ALLOW_DELETES": "false"}


def recovery_plan(runner: Runner) -> subprocess.CompletedProcess[str]:
    """The manual run's first job: plan main, sealed, shown in the summary; its artifact
    handed to the second job of the same run."""
    planned = runner.run("t4o-apply.yml", "recovery-plan", **recovery_env(runner))
    handed = runner.tmp / "recovery"
    shutil.rmtree(handed, ignore_errors=True)
    handed.mkdir()
    if (runner.tmp / "t4o" / "recovery.plan").exists():
        shutil.copy(runner.tmp / "t4o" / "recovery.plan", handed / "recovery.plan")
    return planned


def recovery_apply(runner: Runner) -> subprocess.CompletedProcess[str]:
    """The second job, once the Environment's reviewers approved."""
    return runner.run("t4o-apply.yml", "recovery-apply", **recovery_env(runner))


def recovery(runner: Runner) -> tuple[subprocess.CompletedProcess[str], bool]:
    """A whole manual run: (the apply's result, or the plan's when nothing was to do), and
    whether it applied."""
    planned = recovery_plan(runner)
    if planned.returncode != 0 or runner.outputs.get("changes") != "true":
        return planned, False
    return recovery_apply(runner), True


def test_an_unapproved_delete_fails_the_check_until_a_maintainer_labels_it(
    server: Server, forge: Forge, tmp_path: Path
) -> None:
    runner, reader = team(server, tmp_path)
    git(runner.work, "checkout", "-q", "-b", "remove-user")
    edit_tenant(runner.work / "tenants", "ok-skogen", lambda d: d["users"].pop())
    git(runner.work, "commit", "-q", "-am", "one user less")
    head = git(runner.work, "rev-parse", "HEAD").strip()
    forge.pull_requests[12] = github_pull_request(12, head, author="ola")
    forge.runs.append(github_run(900, head, created_at="2026-12-07T08:00:00Z"))  # the push
    pull = ("github", "--repo", f"{OWNER}/{REPO}", "--pull", "12")
    approving = (*pull, "--workflow", PLAN_WORKFLOW)

    # 1. No label: exit 3, the check fails and names the label.
    approval = script(forge, runner, "approval.py", *approving)
    status, gate = check(runner, reader, approval)
    assert (approval["approved"], status) == ("false", "3")
    assert gate is not None and gate.returncode == 3
    assert "::error title=t4o-reconcile needs approval::" in gate.stdout
    assert "adds the label t4o:allow-deletes" in gate.stdout
    parts = runner.run("t4o-plan.yml", "comment-parts", APPROVED_BY="")
    assert parts.returncode == 0, parts.stderr
    callout = (runner.tmp / "t4o" / "comment" / "part-001.md").read_text()
    assert "### ⚠️ Needs approval: add the label `t4o:allow-deletes`" in callout
    assert "--allow-deletes`)" not in callout  # CI's words, not the CLI's

    # 2. The author adds the label themself: it does not count.
    forge.pull_requests[12] = github_pull_request(12, head, author="ola", labels=(LABEL,))
    forge.issue_events[12] = [github_label_event(1, "ola", LABEL, "2026-12-07T09:00:00Z")]
    forge.permissions["ola"] = "write"
    approval = script(forge, runner, "approval.py", *approving)
    status, gate = check(runner, reader, approval)
    assert (approval["approved"], status) == ("false", "3")
    assert gate is not None and gate.returncode == 3
    assert "the author of pull request #12" in gate.stdout

    # 3. A maintainer adds it (the `labeled` event runs the check again): it passes.
    forge.issue_events[12].append(github_label_event(2, "kari", LABEL, "2026-12-07T09:20:00Z"))
    forge.permissions["kari"] = "maintain"
    approval = script(forge, runner, "approval.py", *approving)
    status, gate = check(runner, reader, approval)
    assert (approval["approved"], status, gate) == ("true", "2", None)
    assert approval["approved-by"] == "@kari (maintain), 2026-12-07 09:20 UTC"
    parts = runner.run("t4o-plan.yml", "comment-parts", APPROVED_BY=approval["approved-by"])
    assert parts.returncode == 0, parts.stderr
    artifact = runner.tmp / "t4o" / "tenants.plan"
    script(forge, runner, "comment.py", *pull[:-2], "--pull", "12",
           "--dir", str(runner.tmp / "t4o" / "comment"))  # fmt: skip
    (comment,) = forge.comments[12]
    assert (
        "### ✅ Approved by &#64;kari &#40;maintain&#41;, 2026-12-07 09:20 UTC" in comment["body"]
    )
    assert "ola.hansen" in comment["body"] or "ingrid.berg" in comment["body"]

    # 4. Merged: the merge job reads the approval from the pull request again and applies.
    git(runner.work, "checkout", "-q", "main")
    git(runner.work, "merge", "-q", "--ff-only", "remove-user")
    forge.pulls[head] = [github_pull(12, head, labels=(LABEL,))]
    forge.pull_requests[12]["merged_at"] = "2026-12-07T10:00:00Z"
    merged = merge_job(runner, forge, artifact, head)

    assert merged["approved-by"] == "@kari (maintain), 2026-12-07 09:20 UTC"
    report = json.loads((runner.tmp / "t4o" / "apply.json").read_text())
    assert report["ok"] is True and report["counts"]["applied"] >= 1
    result = [c["body"] for c in forge.comments[12] if "t4o-reconcile:apply" in c["body"]]
    assert len(result) == 1
    assert f"change(s) applied** at `{head[:12]}`" in result[0]
    (status_made,) = forge.statuses[head]
    assert (status_made["context"], status_made["state"]) == ("t4o-reconcile/apply", "success")
    replanned = cli("plan", runner.work / "tenants", "--detailed-exitcode", env=server.env())
    assert replanned.returncode == 0, replanned.stdout


def test_a_merge_that_fails_half_way_is_reported_and_the_recovery_run_converges(
    forge: Forge, tmp_path: Path
) -> None:
    db = tmp_path / "sandbox.db"
    with sandbox_process(db) as server:
        runner, reader = team(server, tmp_path)
        other = other_partner_holds(server, TAKEN_NUMBER)
        git(runner.work, "checkout", "-q", "-b", "two-changes")
        edit_tenant(runner.work / "tenants", "il-fjellrev",
                    lambda d: d["contact"].update(phone="+4799112233"))  # fmt: skip
        edit_tenant(runner.work / "tenants", "kartverkstedet",
                    lambda d: d.update(organization_number=TAKEN_NUMBER))  # fmt: skip
        git(runner.work, "commit", "-q", "-am", "two changes")
        head = git(runner.work, "rev-parse", "HEAD").strip()
        forge.pull_requests[13] = github_pull_request(13, head)
        forge.runs.append(github_run(901, head, created_at="2026-12-07T08:00:00Z"))
        approval = script(forge, runner, "approval.py", "github", "--repo", f"{OWNER}/{REPO}",
                          "--pull", "13", "--workflow", PLAN_WORKFLOW)  # fmt: skip
        status, gate = check(runner, reader, approval)
        assert (status, gate) == ("2", None)
        artifact = tmp_path / "reviewed-13.plan"
        shutil.copy(runner.tmp / "t4o" / "tenants.plan", artifact)
        git(runner.work, "checkout", "-q", "main")
        git(runner.work, "merge", "-q", "--ff-only", "two-changes")
        forge.pulls[head] = [github_pull(13, head)]

        # The merge applies il-fjellrev; the API refuses kartverkstedet's number.
        merge_job(runner, forge, artifact, head)

        report = json.loads((runner.tmp / "t4o" / "apply.json").read_text())
        assert report["ok"] is False
        assert report["tenants"]["kartverkstedet"]["failed"] == 1
        assert report["tenants"]["il-fjellrev"]["applied"] >= 1
        (said,) = [c["body"] for c in forge.comments[13]]
        assert "❌ **Apply failed**" in said and "`kartverkstedet.identity`: PATCH" in said, said
        assert "**The way back**" in said and RECOVERY_URL in said
        assert forge.statuses[head][0]["state"] == "failure"

        # Nothing to do but wait is not a way back: the cause goes (the other partner
        # gives the number up), and a colleague edits another tenant live meanwhile.
        theirs = f"{server.url}/v1/tenants/fremmed-klubb"
        held = httpx.get(theirs, headers={"Authorization": f"Bearer {other}"})
        given_up = httpx.delete(theirs, headers={"Authorization": f"Bearer {other}",
                                                 "If-Match": held.headers["ETag"]})  # fmt: skip
        assert given_up.status_code in (200, 204), given_up.text
        planned = recovery_plan(runner)
        assert planned.returncode == 0, planned.stdout + planned.stderr
        assert runner.outputs["changes"] == "true"
        assert "kartverkstedet" in runner.summary.read_text()  # shown to the reviewers
        with server.client() as client:
            tenant = client.get("/v1/tenants/kartverkstedet")
            renamed = client.patch(
                "/v1/tenants/kartverkstedet",
                json={"name": "Kartverkstedet (edited live)"},
                headers={"If-Match": tenant.headers["ETag"]},
            )
            assert renamed.status_code == 200, renamed.text
        before = live_state(server)

        stale = recovery_apply(runner)

        assert stale.returncode == 1
        assert "the plan is stale" in stale.stderr
        assert live_state(server) == before  # nothing written

    # A new run, through a flaky API (20 % of requests fail, half of the failed writes
    # after their commit): a run may stop again half-way; the next one converges.
    with sandbox_process(db, "--fail-rate", "0.2") as flaky:
        runner.server = flaky
        attempts = [recovery(runner)]
        if attempts[-1][0].returncode != 0:
            attempts.append(recovery(runner))
        assert attempts[-1][0].returncode == 0, attempts[-1][0].stderr
        assert attempts[0][1]  # the first run had something to apply
    with sandbox_process(db) as steady:
        final = cli("plan", runner.work / "tenants", "--detailed-exitcode", env=steady.env())
        assert final.returncode == 0, final.stdout + final.stderr
        with steady.client() as client:
            fjellrev = client.get("/v1/tenants/il-fjellrev").json()
            kartverkstedet = client.get("/v1/tenants/kartverkstedet").json()
        assert kartverkstedet["organization_number"] == TAKEN_NUMBER
        assert kartverkstedet["name"] != "Kartverkstedet (edited live)"  # main won
        assert fjellrev
