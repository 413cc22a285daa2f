"""scripts/ci/reviewed_plan.py, run as the apply jobs run it (python -I, from outside the
checkout) against a local stand-in of the GitHub and GitLab REST APIs: it takes the plan
only from the plan workflow's run (or the merge request's pipeline) for the merged head
commit, and refuses anything else with one line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.ci.forge_standin import (
    GITHUB_TOKEN,
    GITLAB_TOKEN,
    OWNER,
    PROJECT,
    REPO,
    Forge,
    github_artifact,
    github_pull,
    github_run,
    gitlab_job,
    gitlab_merge_request,
    gitlab_pipeline,
    run_script,
)
from tests.ci.workflows import REPO as SOURCE

SCRIPT = SOURCE / "scripts" / "ci" / "reviewed_plan.py"
MERGE = "a" * 40
HEAD = "1234567890abcdef1234567890abcdef12345678"
OTHER = "0" * 39 + "1"
NAME = f"t4o-plan-{HEAD}"


def run(
    forge: Forge, tmp_path: Path, *args: str, token: str = GITHUB_TOKEN
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    return run_script(forge, tmp_path, "reviewed_plan.py", *args, token=token)


def github(forge: Forge, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    return run(forge, tmp_path, "github", "--repo", f"{OWNER}/{REPO}", "--commit", MERGE)


def refused(done: subprocess.CompletedProcess[str], outputs: dict[str, str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    assert outputs == {}
    assert "Traceback" not in done.stderr
    return lines[0]


def reviewed(forge: Forge) -> None:
    """A merged pull request whose head was planned: two runs (a re-run after a label),
    the newest green, each with its own artifact."""
    forge.pulls[MERGE] = [github_pull(12, HEAD)]
    forge.runs += [github_run(500, HEAD), github_run(501, HEAD)]
    forge.artifacts[500] = [github_artifact(7000, NAME, 500, HEAD)]
    forge.artifacts[501] = [github_artifact(7001, NAME, 501, HEAD)]


def test_takes_the_artifact_of_the_newest_plan_run_for_the_head(
    forge: Forge, tmp_path: Path
) -> None:
    reviewed(forge)
    # Runs of other workflows and other commits, that a lookup by name would have found.
    forge.runs += [
        github_run(502, HEAD, path=".github/workflows/lint.yml"),
        github_run(503, OTHER),
    ]
    forge.artifacts[502] = [github_artifact(7002, NAME, 502, HEAD)]
    forge.artifacts[503] = [github_artifact(7003, NAME, 503, OTHER)]

    done, outputs = github(forge, tmp_path)

    assert done.returncode == 0, done.stderr
    assert outputs == {
        "pull": "12",
        "head-sha": HEAD,
        "run-id": "501",
        "artifact-id": "7001",
        "artifact-name": NAME,
        "allow-deletes": "false",
    }
    assert f"artifact {NAME} (7001) of run 501, pull request #12" in done.stdout
    assert f"/repos/{OWNER}/{REPO}/actions/runs?head_sha={HEAD}&event=pull_request" in " ".join(
        forge.requests
    )


def test_refuses_an_artifact_from_another_workflow(forge: Forge, tmp_path: Path) -> None:
    forge.pulls[MERGE] = [github_pull(12, HEAD)]
    # A branch's own workflow, run on the same head, uploaded an artifact with the name.
    forge.runs.append(github_run(600, HEAD, path=".github/workflows/evil.yml"))
    forge.artifacts[600] = [github_artifact(7100, NAME, 600, HEAD)]

    line = refused(*github(forge, tmp_path))

    assert line == (
        f"Error: no run of .github/workflows/t4o-plan.yml for {HEAD}: "
        "the pull request's head was never planned"
    )


def test_refuses_an_artifact_from_another_commit(forge: Forge, tmp_path: Path) -> None:
    reviewed(forge)
    # The plan run for the head lists an artifact that another run, for another commit, made.
    forge.artifacts[501] = [github_artifact(7200, NAME, 777, OTHER)]

    line = refused(*github(forge, tmp_path))

    assert (
        line == f"Error: artifact {NAME} was made by run 777 for {OTHER}, not by run 501 for {HEAD}"
    )


def test_refuses_a_plan_run_whose_artifact_is_missing(forge: Forge, tmp_path: Path) -> None:
    reviewed(forge)
    forge.artifacts[501] = [github_artifact(7300, f"t4o-plan-{OTHER}", 501, HEAD)]

    assert refused(*github(forge, tmp_path)) == f"Error: run 501 has no artifact {NAME}"


def test_refuses_when_the_newest_run_failed_even_if_an_older_one_passed(
    forge: Forge, tmp_path: Path
) -> None:
    # The label that approved the deletes was removed: the newest run failed.
    reviewed(forge)
    forge.runs.append(github_run(502, HEAD, conclusion="failure"))

    line = refused(*github(forge, tmp_path))

    assert "newest run of .github/workflows/t4o-plan.yml" in line
    assert "(run 502) is failure, not success" in line


def test_refuses_while_the_newest_run_is_still_running(forge: Forge, tmp_path: Path) -> None:
    reviewed(forge)
    forge.runs.append(github_run(502, HEAD, conclusion=None))

    assert "(run 502) is in_progress, not success" in refused(*github(forge, tmp_path))


def test_refuses_an_expired_artifact(forge: Forge, tmp_path: Path) -> None:
    reviewed(forge)
    forge.artifacts[501] = [github_artifact(7001, NAME, 501, HEAD, expired=True)]

    assert "has expired" in refused(*github(forge, tmp_path))


def test_refuses_a_commit_that_no_merged_pull_request_brought(forge: Forge, tmp_path: Path) -> None:
    forge.pulls[MERGE] = [github_pull(13, HEAD, merged=False)]

    line = refused(*github(forge, tmp_path))

    assert (
        line == f"Error: commit {MERGE} came from no merged pull request: nothing reviewed to apply"
    )


def test_a_push_run_of_the_plan_workflow_is_not_a_review(forge: Forge, tmp_path: Path) -> None:
    forge.pulls[MERGE] = [github_pull(12, HEAD)]
    forge.runs.append(github_run(800, HEAD, event="push"))
    forge.artifacts[800] = [github_artifact(7400, NAME, 800, HEAD)]

    assert "never planned" in refused(*github(forge, tmp_path))


def test_a_bad_token_or_bad_arguments_give_one_line(forge: Forge, tmp_path: Path) -> None:
    reviewed(forge)
    line = refused(*run(forge, tmp_path, "github", "--repo", f"{OWNER}/{REPO}",
                        "--commit", MERGE, token="wrong"))  # fmt: skip
    assert line == f"Error: GET /commits/{MERGE}/pulls answered HTTP 401"
    line = refused(*run(forge, tmp_path, "github", "--repo", f"{OWNER}/{REPO}", "--commit", "HEAD"))
    assert line == "Error: --commit 'HEAD' is not a full commit SHA"
    line = refused(*run(forge, tmp_path, "github", "--repo", "../x", "--commit", MERGE))
    assert line == "Error: --repo '../x' is not OWNER/REPO"


# GitLab: the merge request's newest pipeline for its head, and its t4o-plan job.

PLAN_PATH = ".t4o-out/tenants.plan"


def gitlab_reviewed(forge: Forge) -> None:
    forge.merge_requests[MERGE] = [gitlab_merge_request(3, HEAD)]
    forge.pipelines[3] = [gitlab_pipeline(302, HEAD, 3), gitlab_pipeline(301, OTHER, 3)]
    forge.jobs[302] = [gitlab_job(9001, "t4o-validate", 302, HEAD),
                       gitlab_job(9002, "t4o-plan", 302, HEAD)]  # fmt: skip
    forge.jobs[301] = [gitlab_job(9003, "t4o-plan", 301, OTHER)]
    forge.files[(9002, PLAN_PATH)] = b'{"plan": "reviewed"}\n'
    forge.files[(9003, PLAN_PATH)] = b'{"plan": "stale"}\n'


def gitlab(forge: Forge, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path / "reviewed.plan"
    done, _ = run(forge, tmp_path, "gitlab", "--project", str(PROJECT), "--commit", MERGE,
                  "--out", str(out), token=GITLAB_TOKEN)  # fmt: skip
    return done, out


def test_the_approval_label_on_the_merged_pull_request_is_read_through_the_api(
    forge: Forge, tmp_path: Path
) -> None:
    reviewed(forge)
    forge.pulls[MERGE] = [github_pull(12, HEAD, labels=("tenants", "t4o:allow-deletes"))]

    done, outputs = github(forge, tmp_path)

    assert done.returncode == 0, done.stderr
    assert outputs["allow-deletes"] == "true"


@pytest.mark.parametrize("labels", [(), ("t4o:allow-deletes",)])
def test_gitlab_writes_the_approval_of_the_merged_merge_request(
    forge: Forge, tmp_path: Path, labels: tuple[str, ...]
) -> None:
    gitlab_reviewed(forge)
    for requests in forge.merge_requests.values():
        requests[:] = [{**r, "labels": list(labels)} for r in requests]
    out, approval = tmp_path / "reviewed.plan", tmp_path / "approval"
    done, _ = run(forge, tmp_path, "gitlab", "--project", str(PROJECT), "--commit", MERGE,
                  "--out", str(out), "--approval-out", str(approval),
                  token=GITLAB_TOKEN)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert approval.read_text() == ("--allow-deletes\n" if labels else "")


def test_gitlab_takes_the_plan_job_of_the_newest_pipeline_for_the_head(
    forge: Forge, tmp_path: Path
) -> None:
    gitlab_reviewed(forge)

    done, out = gitlab(forge, tmp_path)

    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == b'{"plan": "reviewed"}\n'
    assert f"job 9002, pipeline 302, merge request !3 at {HEAD}" in done.stdout
    assert f"/api/v4/projects/{PROJECT}/jobs/9002/artifacts/.t4o-out/tenants.plan" in forge.requests


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        (
            lambda f: f.pipelines.update(
                {3: [gitlab_pipeline(303, HEAD, 3, "failed"), gitlab_pipeline(302, HEAD, 3)]}
            ),
            "(pipeline 303) is failed, not success",
        ),
        (
            lambda f: f.pipelines.update({3: [gitlab_pipeline(301, OTHER, 3)]}),
            "no pipeline of merge request !3 for",
        ),
        (
            lambda f: f.jobs.update({302: [gitlab_job(9003, "t4o-plan", 301, OTHER)]}),
            f"job 9003 ran in pipeline 301 on {OTHER}, not in pipeline 302 on {HEAD}",
        ),
        (
            lambda f: f.jobs.update({302: [gitlab_job(9001, "t4o-validate", 302, HEAD)]}),
            "pipeline 302 has no job t4o-plan",
        ),
        (
            lambda f: f.merge_requests.update({MERGE: [gitlab_merge_request(3, HEAD, "opened")]}),
            "came from no merged merge request",
        ),
    ],
    ids=["newest-failed", "other-sha", "job-of-another-pipeline", "no-plan-job", "not-merged"],
)
def test_gitlab_refuses_any_other_plan(
    forge: Forge, tmp_path: Path, spoil: object, expected: str
) -> None:
    gitlab_reviewed(forge)
    assert callable(spoil)
    spoil(forge)

    done, out = gitlab(forge, tmp_path)

    assert expected in refused(done, {})
    assert not out.exists()


def test_gitlab_never_writes_through_a_planted_path(forge: Forge, tmp_path: Path) -> None:
    gitlab_reviewed(forge)
    target = tmp_path / "elsewhere"
    target.write_text("untouched\n")
    (tmp_path / "reviewed.plan").symlink_to(target)

    done, _ = gitlab(forge, tmp_path)

    assert "cannot write" in refused(done, {})
    assert target.read_text() == "untouched\n"
