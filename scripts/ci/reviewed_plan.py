"""Finds the reviewed plan that a merge may apply, and refuses any other.

    python -I reviewed_plan.py github --repo OWNER/REPO --commit SHA
        [--workflow .github/workflows/t4o-plan.yml] [--artifact-prefix t4o-plan-]

The merge commit SHA leads to its merged pull request (GET /repos/{o}/{r}/commits/{sha}/pulls)
and so to the pull request's head SHA. The plan workflow's runs for exactly that head
(GET /repos/{o}/{r}/actions/runs?head_sha=...&event=pull_request) are kept only when their
`path` is the plan workflow's file; the newest of them must have completed successfully (an
older green run may hold an approval that a later run no longer had). That run's artifacts
(GET /repos/{o}/{r}/actions/runs/{id}/artifacts) must hold `t4o-plan-<head sha>`, made by
that run for that head, and not expired. Its id goes to $GITHUB_OUTPUT (artifact-id, run-id,
pull, head-sha) for actions/download-artifact, which then fetches exactly that artifact.

Anything else is refused with one line on stderr and exit status 1: an artifact from
another workflow or another commit is never taken because its name matches.

    python -I reviewed_plan.py gitlab --project ID --commit SHA --out FILE
        [--job t4o-plan] [--artifact .t4o-out/tenants.plan]

The same on GitLab: the merged merge request of the commit
(GET /projects/:id/repository/commits/:sha/merge_requests) and its head SHA; the newest of
that merge request's pipelines for that SHA (GET /projects/:id/merge_requests/:iid/pipelines)
must have succeeded; its job `t4o-plan` (GET /projects/:id/pipelines/:pipeline_id/jobs) must
have succeeded on that SHA; the plan file is read from that job's artifacts
(GET /projects/:id/jobs/:job_id/artifacts/*artifact_path) and written to FILE. It reads
T4O_GITLAB_READ_TOKEN (a read_api token) and CI_API_V4_URL.

It runs with the standard library only, as `python -I` from the Action's pinned ref (never
from the checkout), and reads GITHUB_TOKEN, GITHUB_API_URL (default https://api.github.com)
and GITHUB_OUTPUT from the environment.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from typing import Any

from t4o_reconcile.forge.rest import (
    APPROVAL_LABEL,
    SHA,
    GitHub,
    GitLab,
    Refused,
    fail,
    field,
    github_client,
    quoted_path,
    workflow_path,
)

PLAN_WORKFLOW = ".github/workflows/t4o-plan.yml"
ARTIFACT_PREFIX = "t4o-plan-"


@dataclass(frozen=True)
class Reviewed:
    pull: int
    head_sha: str
    run_id: int
    artifact_id: int
    artifact_name: str
    allow_deletes: bool


def _labelled(request: dict[str, Any]) -> bool:
    labels = request.get("labels")
    if not isinstance(labels, list):
        return False
    names = {label.get("name") if isinstance(label, dict) else label for label in labels}
    return APPROVAL_LABEL in names


def merged_pull(github: GitHub, commit: str) -> tuple[int, str, bool]:
    where = f"commit {commit}"
    pulls = github.pages(f"/commits/{commit}/pulls", None)
    merged = [p for p in pulls if isinstance(p, dict) and p.get("merged_at")]
    if not merged:
        raise Refused(f"{where} came from no merged pull request: nothing reviewed to apply")
    pull = merged[0]
    number = field(pull, "number", int, where)
    head = field(field(pull, "head", dict, where), "sha", str, where)
    if not SHA.fullmatch(head):
        raise Refused(f"pull request #{number}: head {head!r} is not a commit SHA")
    return number, head, _labelled(pull)


def plan_run(github: GitHub, head: str, workflow: str) -> dict[str, Any]:
    runs = github.pages("/actions/runs", "workflow_runs", head_sha=head, event="pull_request")
    ours = [
        run
        for run in runs
        if isinstance(run, dict)
        and run.get("head_sha") == head
        and workflow_path(run, github.repo) == workflow
        and run.get("event") == "pull_request"
    ]
    if not ours:
        raise Refused(f"no run of {workflow} for {head}: the pull request's head was never planned")
    newest: dict[str, Any] = max(
        ours, key=lambda r: (r.get("run_number", 0), r.get("run_attempt", 0), r.get("id", 0))
    )
    run_id = field(newest, "id", int, "workflow run")
    if newest.get("status") != "completed" or newest.get("conclusion") != "success":
        state = newest.get("conclusion") or newest.get("status")
        raise Refused(
            f"the newest run of {workflow} for {head} (run {run_id}) is {state}, not success: "
            "plan the pull request again"
        )
    return newest


def plan_artifact(github: GitHub, run: dict[str, Any], head: str, prefix: str) -> dict[str, Any]:
    run_id = field(run, "id", int, "workflow run")
    name = f"{prefix}{head}"
    artifacts = github.pages(f"/actions/runs/{run_id}/artifacts", "artifacts", name=name)
    found = [a for a in artifacts if isinstance(a, dict) and a.get("name") == name]
    if not found:
        raise Refused(f"run {run_id} has no artifact {name}")
    artifact = max(found, key=lambda a: a.get("id", 0))
    made_by = field(artifact, "workflow_run", dict, f"artifact {name}")
    if made_by.get("id") != run_id or made_by.get("head_sha") != head:
        raise Refused(
            f"artifact {name} was made by run {made_by.get('id')} for "
            f"{made_by.get('head_sha')}, not by run {run_id} for {head}"
        )
    if artifact.get("expired") is not False:
        raise Refused(f"artifact {name} of run {run_id} has expired: plan the pull request again")
    return artifact


def find(github: GitHub, commit: str, workflow: str, prefix: str) -> Reviewed:
    pull, head, approved = merged_pull(github, commit)
    run = plan_run(github, head, workflow)
    artifact = plan_artifact(github, run, head, prefix)
    return Reviewed(
        pull=pull,
        head_sha=head,
        run_id=run["id"],
        artifact_id=field(artifact, "id", int, "artifact"),
        artifact_name=artifact["name"],
        allow_deletes=approved,
    )


def gitlab_find(
    gitlab: GitLab, commit: str, job_name: str, artifact: str
) -> tuple[str, bytes, bool]:
    """The reviewed plan's bytes, a line saying where they came from, and whether the
    merged merge request carries the approval label."""
    where = f"commit {commit}"
    requests = gitlab.pages(f"/repository/commits/{commit}/merge_requests")
    merged = [r for r in requests if isinstance(r, dict) and r.get("state") == "merged"]
    if not merged:
        raise Refused(f"{where} came from no merged merge request: nothing reviewed to apply")
    iid = field(merged[0], "iid", int, where)
    approved = _labelled(merged[0])
    head = field(merged[0], "sha", str, f"merge request !{iid}")
    if not SHA.fullmatch(head):
        raise Refused(f"merge request !{iid}: head {head!r} is not a commit SHA")
    pipelines = [
        p
        for p in gitlab.pages(f"/merge_requests/{iid}/pipelines")
        if isinstance(p, dict) and p.get("sha") == head
    ]
    if not pipelines:
        raise Refused(f"no pipeline of merge request !{iid} for {head}: its head was never planned")
    newest = max(pipelines, key=lambda p: p.get("id", 0))
    pipeline_id = field(newest, "id", int, "pipeline")
    if newest.get("status") != "success":
        raise Refused(
            f"the newest pipeline of merge request !{iid} for {head} (pipeline {pipeline_id}) "
            f"is {newest.get('status')}, not success: plan the merge request again"
        )
    jobs = [
        j
        for j in gitlab.pages(f"/pipelines/{pipeline_id}/jobs")
        if isinstance(j, dict) and j.get("name") == job_name
    ]
    if not jobs:
        raise Refused(f"pipeline {pipeline_id} has no job {job_name}")
    job = max(jobs, key=lambda j: j.get("id", 0))
    job_id = field(job, "id", int, f"job {job_name}")
    made_in = field(job, "pipeline", dict, f"job {job_id}")
    job_commit = field(job, "commit", dict, f"job {job_id}").get("id")
    if made_in.get("id") != pipeline_id or job_commit != head:
        raise Refused(
            f"job {job_id} ran in pipeline {made_in.get('id')} on {job_commit}, "
            f"not in pipeline {pipeline_id} on {head}"
        )
    if job.get("status") != "success":
        raise Refused(f"job {job_name} ({job_id}) is {job.get('status')}, not success")
    body = gitlab.raw(f"/jobs/{job_id}/artifacts/{quoted_path(artifact)}")
    return (
        f"Reviewed plan: {artifact} of job {job_id}, pipeline {pipeline_id}, "
        f"merge request !{iid} at {head}",
        body,
        approved,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="reviewed_plan.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="forge", required=True)
    github = sub.add_parser("github", help="the plan workflow's artifact for a merge commit")
    github.add_argument("--repo", required=True, help="OWNER/REPO")
    github.add_argument("--commit", required=True, help="the merge commit SHA")
    github.add_argument("--workflow", default=PLAN_WORKFLOW)
    github.add_argument("--artifact-prefix", default=ARTIFACT_PREFIX)
    gitlab = sub.add_parser("gitlab", help="the plan job's artifact for a merge commit")
    gitlab.add_argument("--project", required=True, help="the project's ID (CI_PROJECT_ID)")
    gitlab.add_argument("--commit", required=True, help="the merge commit SHA")
    gitlab.add_argument("--out", required=True, help="where to write the reviewed plan")
    gitlab.add_argument("--job", default="t4o-plan")
    gitlab.add_argument(
        "--approval-out",
        help=f"write --allow-deletes here if the merge request has {APPROVAL_LABEL}",
    )
    gitlab.add_argument("--artifact", default=".t4o-out/tenants.plan")
    args = parser.parse_args(argv)

    if not SHA.fullmatch(args.commit):
        fail(f"--commit {args.commit!r} is not a full commit SHA")
    if args.forge == "gitlab":
        return _gitlab(args)
    client = github_client(args.repo)
    try:
        reviewed = find(client, args.commit, args.workflow, args.artifact_prefix)
    except Refused as exc:
        fail(str(exc))
    lines = [
        f"pull={reviewed.pull}",
        f"head-sha={reviewed.head_sha}",
        f"run-id={reviewed.run_id}",
        f"artifact-id={reviewed.artifact_id}",
        f"artifact-name={reviewed.artifact_name}",
        f"allow-deletes={'true' if reviewed.allow_deletes else 'false'}",
    ]
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a", encoding="utf-8") as out:
            out.write("".join(f"{line}\n" for line in lines))
    print(
        f"Reviewed plan: artifact {reviewed.artifact_name} ({reviewed.artifact_id}) of run "
        f"{reviewed.run_id}, pull request #{reviewed.pull} at {reviewed.head_sha}"
    )
    return 0


def _gitlab(args: argparse.Namespace) -> int:
    api = os.environ.get("CI_API_V4_URL", "https://gitlab.com/api/v4")
    client = GitLab(api, args.project, os.environ.get("T4O_GITLAB_READ_TOKEN", ""))
    try:
        said, body, approved = gitlab_find(client, args.commit, args.job, args.artifact)
    except Refused as exc:
        fail(str(exc))
    # Only a new file: a path that exists (or a symlink planted there) is refused.
    try:
        with open(args.out, "xb") as out:
            out.write(body)
    except OSError as exc:
        fail(f"cannot write {args.out}: {exc.strerror}")
    if args.approval_out:
        with open(args.approval_out, "x", encoding="utf-8") as out:
            out.write("--allow-deletes\n" if approved else "")
    print(said)
    return 0


if __name__ == "__main__":
    sys.exit(main())
