"""The whole CI loop with the shipped GitHub workflows' own scripts, run by bash against a
sandbox process: a pull-request plan with a read-only token and no secret values, the
comment parts, a merge, the apply of the reviewed plan, a stale refusal, and a drift run
that finds a tenant created behind the tool's back.

Only the `run:` scripts are executed; what GitHub does around them (checkout, artifacts,
the comment API) is done here by git commands and file copies."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.ci.workflows import github_scripts, script
from tests.e2e.conftest import EXAMPLES, Server, base_env, cli, example_secrets, plan_document
from tests.e2e.helpers import edit_tenant, live_state

pytestmark = pytest.mark.e2e

MARKER = "<!-- t4o-reconcile:plan part="


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


class Runner:
    """Runs one workflow step's script as GitHub would: bash -e, the step's env, the
    GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, t4o-reconcile on PATH."""

    def __init__(self, server: Server, work: Path, tmp: Path) -> None:
        self.server = server
        self.work = work
        self.tmp = tmp
        self.outputs: dict[str, str] = {}
        self.summary = tmp / "summary.md"

    def run(self, workflow: str, step: str, **env: str) -> subprocess.CompletedProcess[str]:
        output = self.tmp / "github_output"
        output.write_text("")
        full = base_env()
        full["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), full["PATH"]])
        full.update(
            CI="true",
            NO_COLOR="1",
            T4O_API_URL=self.server.url,
            T4O_TENANTS="tenants",
            GITHUB_OUTPUT=str(output),
            GITHUB_STEP_SUMMARY=str(self.summary),
            RUNNER_TEMP=str(self.tmp),
            PYTHONSAFEPATH="1",  # the workflows' own env
        )
        full.update(env)
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", step_script(workflow, step)],
            cwd=self.work,
            env=full,
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.outputs = dict(
            line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
        )
        return done

    def merge(self, artifact: Path, *, allow_deletes: bool = False) -> tuple[Any, Any]:
        """The merge job: the reviewed plan from the pull request's artifact, plan again
        against it, and apply only if that passed. ``allow_deletes``: the label the job
        reads from the merged pull request."""
        reviewed = self.tmp / "reviewed"
        shutil.rmtree(reviewed, ignore_errors=True)
        reviewed.mkdir()
        shutil.copy(artifact / "tenants.plan", reviewed / "tenants.plan")
        env = {
            "T4O_API_TOKEN": self.server.token,
            "T4O_SECRETS_FILE_CONTENT": secrets_file_content(),
            "ALLOW_DELETES": "true" if allow_deletes else "false",
        }
        checked = self.run("t4o-apply.yml", "plan", **env)
        if checked.returncode != 0:
            return checked, None
        return checked, self.run("t4o-apply.yml", "apply", **env)


def step_script(workflow: str, step: str) -> str:
    return script((s for s in github_scripts() if s.where.startswith(workflow + ":")), step)


def secrets_file_content() -> str:
    return "".join(f"{name}: {json.dumps(value)}\n" for name, value in example_secrets().items())


def pull_request(runner: Runner, reader: str, *, allow_deletes: bool = False) -> Path:
    """The pull-request job on the checked-out head; returns its uploaded artifact."""
    validated = runner.run("t4o-plan.yml", "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    planned = runner.run(
        "t4o-plan.yml",
        "plan",
        T4O_API_TOKEN=reader,
        ALLOW_DELETES="true" if allow_deletes else "false",
        BASE_SHA=git(runner.work, "rev-parse", "main").strip(),
    )
    assert planned.returncode == 0, planned.stdout + planned.stderr
    # --detailed-exitcode: 0 no changes, 2 changes; 4 and 6 the same with tenants leaving
    # management (the gate passes them with a warning); 3 (an approval missing) fails.
    assert runner.outputs["status"] in ("0", "2", "4", "6"), planned.stdout + planned.stderr
    parts = runner.run("t4o-plan.yml", "comment-parts")
    assert parts.returncode == 0, parts.stderr
    artifact = runner.tmp / f"artifact-{git(runner.work, 'rev-parse', 'HEAD').strip()}"
    artifact.mkdir()
    # The workflows write every output to $RUNNER_TEMP/t4o, never into the checkout.
    shutil.copy(runner.tmp / "t4o" / "tenants.plan", artifact / "tenants.plan")
    shutil.copytree(runner.tmp / "t4o" / "comment", artifact / "comment")
    return artifact


def test_the_whole_loop(server: Server, tmp_path: Path) -> None:
    work = tmp_path / "team"
    (work / "tenants").mkdir(parents=True)
    for path in EXAMPLES.glob("*.yaml"):
        shutil.copy(path, work / "tenants" / path.name)
    git(work, "init", "-q", "-b", "main")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "tenants")
    secrets = example_secrets()
    first = cli("apply", work / "tenants", "--auto-approve", env=server.env(**secrets))
    assert first.returncode == 0, first.stderr
    reader = server.read_only_token()
    runner = Runner(server, work, tmp_path)

    # 1. A pull request changes a phone number and removes a user (a delete that needs
    #    approval, given by the label).
    git(work, "checkout", "-q", "-b", "change-phone")
    edit_tenant(work / "tenants", "il-fjellrev", lambda d: d["contact"].update(phone="+4799112233"))
    edit_tenant(work / "tenants", "ok-skogen", lambda d: d["users"].pop())
    git(work, "commit", "-q", "-am", "new phone, one user less")
    before = live_state(server)

    artifact = pull_request(runner, reader, allow_deletes=True)

    assert live_state(server) == before  # a pull request writes nothing
    parts = sorted((artifact / "comment").glob("part-*.md"))
    assert len(parts) == 1
    comment = parts[0].read_text()
    assert comment.startswith(MARKER + "1/1 ")
    assert "```diff" in comment and "+4799112233" in comment
    assert "Approved in this plan (`plan --allow-deletes`)" in comment
    saved = plan_document(artifact / "tenants.plan")
    assert saved["deletes_approved"] is True
    assert saved["identity"] == "e2e-partner"
    assert saved["endpoint"] == server.url
    assert saved["partial"] is True  # no secret values in the pull-request job
    assert "e2e-value-of" not in (artifact / "tenants.plan").read_text()

    # 2. Merged up to date: the merge job applies exactly the reviewed plan.
    git(work, "checkout", "-q", "main")
    git(work, "merge", "-q", "--ff-only", "change-phone")
    checked, applied = runner.merge(artifact, allow_deletes=True)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert applied is not None and applied.returncode == 0, applied.stdout + applied.stderr
    report = json.loads((tmp_path / "t4o" / "apply.json").read_text())
    assert {a["outcome"] for a in report["actions"]} == {"applied"}
    fjellrev = next(
        t for t in json.loads(cli("plan", work / "tenants", "--format", "json",
                                  env=server.env(**secrets)).stdout)["tenants"]
        if t["slug"] == "il-fjellrev"
    )  # fmt: skip
    assert fjellrev["actions"] == []  # converged

    # 3. A second pull request is planned; main moves before it merges (another change to
    #    the same tenant lands first); merged without updating, the merge job refuses it
    #    and writes nothing.
    git(work, "checkout", "-q", "-b", "stale", "main")
    kartverkstedet = work / "tenants" / "kartverkstedet.yaml"
    kartverkstedet.write_text(kartverkstedet.read_text().replace("AS\n", "Kart AS\n", 1))
    git(work, "commit", "-q", "-am", "rename")
    stale_artifact = pull_request(runner, reader)
    git(work, "checkout", "-q", "main")
    kartverkstedet.write_text(kartverkstedet.read_text().replace(": 3500", ": 3600", 1))
    git(work, "commit", "-q", "-am", "meanwhile on main")
    git(work, "merge", "-q", "--no-ff", "-m", "merge stale", "stale")
    before = live_state(server)

    refused, nothing = runner.merge(stale_artifact)

    assert refused.returncode != 0
    assert nothing is None
    assert "the plan differs from the reviewed plan" in refused.stderr
    assert "configuration changed since the review" in refused.stderr
    assert live_state(server) == before

    # 4. Nightly: a tenant created behind the tool's back is drift.
    git(work, "reset", "-q", "--hard", "change-phone")  # main as it was applied
    quiet = runner.run(
        "t4o-drift.yml",
        "drift",
        T4O_API_TOKEN=reader,
        T4O_SECRETS_FILE_CONTENT=secrets_file_content(),
    )
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "No drift." in quiet.stdout
    with server.client() as client:
        made = client.post(
            "/v1/tenants",
            json={
                "slug": "skygge-klubb",
                "name": "Skygge",
                "organization_number": "974760673",
                "owner": {"email": "eier@skygge.no", "name": "Eier"},
            },
            headers={"Idempotency-Key": "behind-the-back"},
        )
    assert made.status_code == 201, made.text
    drift = runner.run(
        "t4o-drift.yml",
        "drift",
        T4O_API_TOKEN=reader,
        T4O_SECRETS_FILE_CONTENT=secrets_file_content(),
    )

    assert drift.returncode == 1, drift.stdout + drift.stderr
    # Told apart from drift: a live tenant with no file, not on the operator's list.
    assert "::error title=t4o-reconcile unmanaged tenant::" in drift.stdout
    assert "skygge-klubb" in runner.summary.read_text()
    listed = runner.run(
        "t4o-drift.yml",
        "drift",
        T4O_API_TOKEN=reader,
        T4O_SECRETS_FILE_CONTENT=secrets_file_content(),
        T4O_UNMANAGED_TENANTS="skygge-klubb",
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "No drift." in listed.stdout
