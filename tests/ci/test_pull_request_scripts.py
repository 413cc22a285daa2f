"""scripts/ci/approval.py, comment.py and report.py, run as the jobs run them (python -I,
from outside the checkout) against the stand-in of GitHub's and GitLab's REST APIs: who
may approve, the sticky comment parts, and the merge's outcome on the pull request and
its commit (issue 21 items 3 and 6)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.ci.forge_standin import (
    GITHUB_TOKEN,
    GITLAB_TOKEN,
    OWNER,
    PROJECT,
    REPO,
    Forge,
    github_comment,
    github_label_event,
    github_pull,
    github_pull_request,
    github_run,
    github_user,
    gitlab_label_event,
    gitlab_merge_request,
    gitlab_note,
    gitlab_user,
    run_script,
)
from tests.ci.workflows import REPO as SOURCE

SCRIPTS = SOURCE / "scripts" / "ci"
HEAD = "1234567890abcdef1234567890abcdef12345678"
MERGE = "a" * 40
LABEL = "t4o:allow-deletes"
MARKER = "<!-- t4o-reconcile:plan part="
RECOVERY = "https://github.com/club-admin/tenants/actions/workflows/t4o-apply.yml"


def run(
    forge: Forge, tmp_path: Path, script: str, *args: str, token: str = GITHUB_TOKEN
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    return run_script(forge, tmp_path, script, *args, token=token)


# Approval: the label counts only when someone else with write access added it.


def labelled(forge: Forge, by: str, role: str | None, author: str = "author") -> None:
    forge.pull_requests[12] = github_pull_request(12, HEAD, author=author, labels=(LABEL,))
    forge.issue_events[12] = [
        github_label_event(1, "someone", "tenants", "2026-12-07T08:00:00Z"),
        github_label_event(2, "intruder", LABEL, "2026-12-07T08:30:00Z"),
        github_label_event(3, "intruder", LABEL, "2026-12-07T08:31:00Z", event="unlabeled"),
        github_label_event(4, by, LABEL, "2026-12-07T09:15:42Z"),
    ]
    if role is not None:
        forge.permissions[by] = role


def approval(forge: Forge, tmp_path: Path, *which: str) -> tuple[Any, dict[str, str]]:
    return run(forge, tmp_path, "approval.py", "github", "--repo", f"{OWNER}/{REPO}", *which)


@pytest.mark.parametrize("role", ["maintain", "admin", "write"])
def test_a_label_added_by_another_writer_approves(forge: Forge, tmp_path: Path, role: str) -> None:
    labelled(forge, "kari", role)

    done, outputs = approval(forge, tmp_path, "--pull", "12")

    assert done.returncode == 0, done.stderr
    assert outputs == {
        "approved": "true",
        "allow-deletes": "--allow-deletes",
        "approved-by": f"@kari ({role}), 2026-12-07 09:15 UTC",
        "why": f"{LABEL} added by @kari ({role}), 2026-12-07 09:15 UTC",
    }
    assert f"/repos/{OWNER}/{REPO}/collaborators/kari/permission" in forge.requests


@pytest.mark.parametrize(
    ("by", "role", "why"),
    [
        ("author", "admin", f"{LABEL} was added by @author, the author of pull request #12"),
        ("ola", "read", f"{LABEL} was added by @ola, who has read access"),
        ("ola", "triage", f"{LABEL} was added by @ola, who has triage access"),
        ("stranger", None, f"{LABEL} was added by @stranger, who has none access"),
    ],
    ids=["author", "read", "triage", "not-a-collaborator"],
)
def test_a_label_that_does_not_count(
    forge: Forge, tmp_path: Path, by: str, role: str | None, why: str
) -> None:
    labelled(forge, by, role)

    done, outputs = approval(forge, tmp_path, "--pull", "12")

    assert done.returncode == 0, done.stderr
    assert outputs["approved"] == "false"
    assert outputs["allow-deletes"] == ""
    assert outputs["approved-by"] == ""
    assert outputs["why"].startswith(why), outputs["why"]
    assert done.stdout.startswith("Not approved: ")


def test_no_label_no_approval_and_no_events_read(forge: Forge, tmp_path: Path) -> None:
    forge.pull_requests[12] = github_pull_request(12, HEAD, labels=("tenants",))

    done, outputs = approval(forge, tmp_path, "--pull", "12")

    assert done.returncode == 0, done.stderr
    assert outputs["approved"] == "false"
    assert outputs["why"] == f"pull request #12 does not carry the label {LABEL}"
    assert not any("/events" in r for r in forge.requests)


def test_the_merge_job_reads_the_approval_of_the_merged_pull_request(
    forge: Forge, tmp_path: Path
) -> None:
    labelled(forge, "kari", "maintain")
    forge.pulls[MERGE] = [github_pull(12, HEAD, labels=(LABEL,))]

    done, outputs = approval(forge, tmp_path, "--commit", MERGE)

    assert done.returncode == 0, done.stderr
    assert outputs["allow-deletes"] == "--allow-deletes"


def test_an_api_that_cannot_be_read_is_an_error_not_a_verdict(forge: Forge, tmp_path: Path) -> None:
    labelled(forge, "kari", "maintain")

    done, outputs = run(forge, tmp_path, "approval.py", "github", "--repo", f"{OWNER}/{REPO}",
                        "--pull", "12", token="wrong")  # fmt: skip

    assert done.returncode == 1
    assert done.stderr == "Error: GET /pulls/12 answered HTTP 401\n"
    assert outputs == {}


def test_many_label_events_are_read_across_pages(forge: Forge, tmp_path: Path) -> None:
    labelled(forge, "kari", "maintain")
    noise = [github_label_event(100 + i, "bot", "ci", "2026-12-07T07:00:00Z") for i in range(150)]
    forge.issue_events[12] = noise + forge.issue_events[12]

    done, outputs = approval(forge, tmp_path, "--pull", "12")

    assert outputs["approved"] == "true", done.stdout + done.stderr
    assert any("events?per_page=100&page=2" in r for r in forge.requests)


def gitlab_labelled(forge: Forge, user_id: int, level: int | None) -> None:
    adder = gitlab_user(user_id, f"user{user_id}")
    forge.merge_request_by_iid[3] = gitlab_merge_request(3, HEAD, "opened", (LABEL,))
    forge.label_events[3] = [
        gitlab_label_event(1, gitlab_user(5, "someone"), LABEL, "2026-12-07T08:00:00.000Z"),
        gitlab_label_event(2, adder, LABEL, "2026-12-07T09:15:00.000Z"),
    ]
    if level is not None:
        forge.members[user_id] = level


@pytest.mark.parametrize(
    ("user_id", "level", "approved"),
    [(202, 40, True), (202, 30, True), (202, 20, False), (101, 50, False), (202, None, False)],
    ids=["maintainer", "developer", "reporter", "author", "not-a-member"],
)
def test_gitlab_approval(
    forge: Forge, tmp_path: Path, user_id: int, level: int | None, approved: bool
) -> None:
    gitlab_labelled(forge, user_id, level)
    flag, by = tmp_path / "approval", tmp_path / "approved-by"

    done, _ = run(forge, tmp_path, "approval.py", "gitlab", "--project", str(PROJECT),
                  "--mr", "3", "--approval-out", str(flag), "--approved-by-out", str(by),
                  token=GITLAB_TOKEN)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert flag.read_text() == ("--allow-deletes\n" if approved else "")
    expected = f"@user202 (access level {level}), 2026-12-07 09:15 UTC\n" if approved else ""
    assert by.read_text() == expected


# The plan comment, in sticky parts.


def parts(tmp_path: Path, *bodies: str) -> Path:
    folder = tmp_path / "comment"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    for number, body in enumerate(bodies, 1):
        (folder / f"part-{number:03d}.md").write_text(body)
    return folder


def post(forge: Forge, tmp_path: Path, folder: Path) -> subprocess.CompletedProcess[str]:
    done, _ = run(forge, tmp_path, "comment.py", "github", "--repo", f"{OWNER}/{REPO}",
                  "--pull", "12", "--dir", str(folder))  # fmt: skip
    return done


def test_comment_parts_are_created_updated_and_the_stale_ones_deleted(
    forge: Forge, tmp_path: Path
) -> None:
    forge.pull_requests[12] = github_pull_request(12, HEAD)
    # Someone else's comment that starts with the marker is never touched.
    forge.comments[12] = [
        github_comment(1, 12, MARKER + "1/1 forged -->", github_user("mallory", 66))
    ]

    first = post(forge, tmp_path, parts(tmp_path, MARKER + "1/2 a", MARKER + "2/2 b"))
    second = post(forge, tmp_path, parts(tmp_path, MARKER + "1/1 c"))

    assert first.returncode == 0, first.stderr
    assert first.stdout == "pull request #12: 2 part(s): 2 created, 0 updated, 0 deleted\n"
    assert second.stdout == "pull request #12: 1 part(s): 0 created, 1 updated, 1 deleted\n"
    bodies = [(c["user"]["login"], c["body"]) for c in forge.comments[12]]
    assert bodies == [("mallory", MARKER + "1/1 forged -->"),
                      ("github-actions[bot]", MARKER + "1/1 c")]  # fmt: skip
    again = post(forge, tmp_path, parts(tmp_path, MARKER + "1/1 c"))
    assert again.stdout.endswith("0 created, 0 updated, 0 deleted\n")  # unchanged: no write


def test_comment_refuses_a_folder_without_parts_or_a_part_without_the_marker(
    forge: Forge, tmp_path: Path
) -> None:
    forge.pull_requests[12] = github_pull_request(12, HEAD)
    empty = tmp_path / "empty"
    empty.mkdir()

    none = post(forge, tmp_path, empty)
    unmarked = post(forge, tmp_path, parts(tmp_path, "hello"))

    assert none.returncode == 1 and "holds no comment part" in none.stderr
    assert unmarked.returncode == 1 and "does not start with" in unmarked.stderr
    assert forge.comments == {}


def test_gitlab_notes_are_kept_in_step_with_the_parts(forge: Forge, tmp_path: Path) -> None:
    forge.merge_request_by_iid[3] = gitlab_merge_request(3, HEAD, "opened")
    forge.notes[3] = [gitlab_note(1, 3, MARKER + "1/1 forged", gitlab_user(66, "mallory"))]

    done, _ = run(forge, tmp_path, "comment.py", "gitlab", "--project", str(PROJECT), "--mr",
                  "3", "--dir", str(parts(tmp_path, MARKER + "1/2 a", MARKER + "2/2 b")),
                  token=GITLAB_TOKEN)  # fmt: skip
    again, _ = run(forge, tmp_path, "comment.py", "gitlab", "--project", str(PROJECT), "--mr",
                   "3", "--dir", str(parts(tmp_path, MARKER + "1/1 c")),
                   token=GITLAB_TOKEN)  # fmt: skip

    assert done.returncode == 0 and again.returncode == 0, done.stderr + again.stderr
    assert [n["body"] for n in forge.notes[3]] == [MARKER + "1/1 forged", MARKER + "1/1 c"]


# The merge's outcome on the pull request and the commit.


def report(
    forge: Forge, tmp_path: Path, document: dict[str, Any] | None, log: str = ""
) -> subprocess.CompletedProcess[str]:
    path, log_path = tmp_path / "apply.json", tmp_path / "plan.log"
    path.unlink(missing_ok=True)
    if document is not None:
        path.write_text(json.dumps(document))
    log_path.write_text(log)
    done, _ = run(forge, tmp_path, "report.py", "github", "--repo", f"{OWNER}/{REPO}",
                  "--commit", MERGE, "--report", str(path), "--log", str(log_path),
                  "--run-url", "https://github.com/club-admin/tenants/actions/runs/9",
                  "--recovery-url", RECOVERY)  # fmt: skip
    return done


def applied(ok: bool, actions: list[dict[str, str]]) -> dict[str, Any]:
    counts = {k: sum(a["outcome"] == k for a in actions) for k in ("applied", "failed", "skipped")}
    return {"format_version": 1, "ok": ok, "counts": counts, "actions": actions}


def test_a_successful_merge_says_how_many_changes_at_which_commit(
    forge: Forge, tmp_path: Path
) -> None:
    forge.pulls[MERGE] = [github_pull(12, HEAD)]
    forge.pull_requests[12] = github_pull_request(12, HEAD)
    actions = [{"address": f"ok-skogen.users[{i}]", "outcome": "applied", "message": ""}
               for i in range(3)]  # fmt: skip

    done = report(forge, tmp_path, applied(True, actions))

    assert done.returncode == 0, done.stderr
    (body,) = [c["body"] for c in forge.comments[12]]
    assert body.startswith(f"<!-- t4o-reconcile:apply sha={MERGE} -->\n")
    assert f"✅ **3 change(s) applied** at `{MERGE[:12]}`." in body
    assert "way back" not in body
    (status,) = forge.statuses[MERGE]
    assert status["state"] == "success"
    assert status["context"] == "t4o-reconcile/apply"
    assert status["description"] == f"3 change(s) applied at {MERGE[:12]}"
    assert status["target_url"].endswith("/actions/runs/9")


def test_a_failed_apply_names_each_failure_escaped_and_the_way_back(
    forge: Forge, tmp_path: Path
) -> None:
    forge.pulls[MERGE] = [github_pull(12, HEAD)]
    forge.pull_requests[12] = github_pull_request(12, HEAD)
    actions = [
        {"address": "il-fjellrev", "outcome": "applied", "message": ""},
        {"address": "kartverkstedet", "outcome": "failed",
         "message": "HTTP 409: taken <img src=x> @everyone [x](https://evil)"},
        {"address": "kartverkstedet.users[a]", "outcome": "skipped", "message": ""},
    ]  # fmt: skip

    done = report(forge, tmp_path, applied(False, actions))
    rerun = report(forge, tmp_path, applied(True, actions[:1]))  # the same commit, again

    assert done.returncode == 0 and rerun.returncode == 0, done.stderr + rerun.stderr
    assert [s["state"] for s in forge.statuses[MERGE]] == ["success", "failure"]
    assert forge.statuses[MERGE][1]["description"] == "failed: 1 applied, 1 failed, 1 skipped"
    first = next(r for r in forge.requests if r.startswith("POST ") and "/comments" in r)
    assert first.endswith("/issues/12/comments")
    (body,) = [c["body"] for c in forge.comments[12]]  # updated, not a second comment
    assert "1 change(s) applied" in body


def test_the_failure_comment_escapes_what_the_api_said(forge: Forge, tmp_path: Path) -> None:
    forge.pulls[MERGE] = [github_pull(12, HEAD)]
    forge.pull_requests[12] = github_pull_request(12, HEAD)
    actions = [{"address": "kartverkstedet", "outcome": "failed",
                "message": "taken <img src=x> @everyone [x](https://evil) <!-- -->"}]  # fmt: skip

    report(forge, tmp_path, applied(False, actions))

    (body,) = [c["body"] for c in forge.comments[12]]
    assert "❌ **Apply failed**" in body
    assert "- `kartverkstedet`: taken &#60;img src=x&#62; &#64;everyone" in body
    assert "<img" not in body and "@everyone" not in body and "](https://evil)" not in body
    assert body.count("<!--") == 1
    assert "**The way back**" in body
    assert "(https://github.com/club-admin/tenants/actions/workflows/t4o-apply.yml)" in body


def test_a_refused_merge_gives_the_reason_from_the_log(forge: Forge, tmp_path: Path) -> None:
    forge.pulls[MERGE] = [github_pull(12, HEAD)]
    forge.pull_requests[12] = github_pull_request(12, HEAD)
    log = (
        "Planning…\n"
        "Error: plan --reviewed: the plan differs from the reviewed plan: the configuration"
        " changed since the review\n"
    )

    done = report(forge, tmp_path, None, log)

    assert done.returncode == 0, done.stderr
    (body,) = [c["body"] for c in forge.comments[12]]
    assert "⛔ **Refused**: nothing was applied" in body
    assert (
        "- plan --reviewed&#58; the plan differs" in body or "- plan --reviewed: the plan" in body
    )
    assert forge.statuses[MERGE][0]["state"] == "failure"


def test_nothing_to_apply_is_a_success(forge: Forge, tmp_path: Path) -> None:
    forge.pulls[MERGE] = [github_pull(12, HEAD)]
    forge.pull_requests[12] = github_pull_request(12, HEAD)

    report(forge, tmp_path, None, "Nothing to apply.\n")

    assert forge.statuses[MERGE][0]["state"] == "success"
    assert "No changes to apply" in forge.comments[12][0]["body"]


def test_gitlab_report_is_a_note_and_a_commit_status(forge: Forge, tmp_path: Path) -> None:
    forge.merge_requests[MERGE] = [gitlab_merge_request(3, HEAD)]
    forge.merge_request_by_iid[3] = gitlab_merge_request(3, HEAD)
    path = tmp_path / "apply.json"
    path.write_text(json.dumps(applied(True, [{"address": "x", "outcome": "applied",
                                               "message": ""}])))  # fmt: skip

    done, _ = run(forge, tmp_path, "report.py", "gitlab", "--project", str(PROJECT),
                  "--commit", MERGE, "--report", str(path),
                  "--run-url", "https://gitlab.example/club/tenants/-/jobs/5",
                  "--recovery-url", "https://gitlab.example/club/tenants/-/pipelines/new",
                  token=GITLAB_TOKEN)  # fmt: skip

    assert done.returncode == 0, done.stderr
    assert "1 change(s) applied" in forge.notes[3][0]["body"]
    (status,) = forge.gitlab_statuses[MERGE]
    assert (status["name"], status["status"]) == ("t4o-reconcile/apply", "success")


def test_report_refuses_bad_arguments_in_one_line(forge: Forge, tmp_path: Path) -> None:
    done, _ = run(forge, tmp_path, "report.py", "github", "--repo", f"{OWNER}/{REPO}",
                  "--commit", "HEAD", "--report", "x", "--run-url", "https://x",
                  "--recovery-url", "https://y")  # fmt: skip
    assert (done.returncode, done.stderr) == (
        1,
        "Error: --commit 'HEAD' is not a full commit SHA\n",
    )
    bad = tmp_path / "apply.json"
    bad.write_text("[1, 2]")
    done, _ = run(forge, tmp_path, "report.py", "github", "--repo", f"{OWNER}/{REPO}",
                  "--commit", MERGE, "--report", str(bad), "--run-url", "https://x",
                  "--recovery-url", "https://y")  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ") and "apply --report's document" in done.stderr
    assert forge.statuses == {}


@pytest.mark.parametrize(
    ("pushed", "approved"),
    [("2026-12-07T09:00:00Z", True), ("2026-12-07T09:30:00Z", False), (None, False)],
    ids=["label-after-push", "pushed-after-label", "never-planned"],
)
def test_a_label_added_before_the_newest_push_does_not_count(
    forge: Forge, tmp_path: Path, pushed: str | None, approved: bool
) -> None:
    labelled(forge, "kari", "maintain")  # labelled at 09:15
    if pushed is not None:
        # The head's first plan run (created at the push), a later one, another workflow's.
        forge.runs += [
            github_run(700, HEAD, created_at=pushed),
            github_run(701, HEAD, created_at="2026-12-07T09:40:00Z"),
            github_run(702, HEAD, path=".github/workflows/lint.yml",
                       created_at="2026-12-07T08:00:00Z"),
        ]  # fmt: skip

    done, outputs = approval(
        forge, tmp_path, "--pull", "12", "--workflow", ".github/workflows/t4o-plan.yml"
    )

    assert done.returncode == 0, done.stderr
    assert outputs["approved"] == ("true" if approved else "false"), outputs["why"]
    if pushed == "2026-12-07T09:30:00Z":
        assert outputs["why"] == (
            f"{LABEL} was added at 2026-12-07 09:15 UTC, before the newest commits were"
            " pushed (2026-12-07 09:30 UTC): remove it and add it again once the new plan"
            " is read"
        )


@pytest.mark.parametrize(
    ("script", "args", "error"),
    [
        ("approval.py", ("github", "--repo", "../x", "--pull", "1"),
         "Error: --repo '../x' is not OWNER/REPO"),
        ("approval.py", ("github", "--repo", f"{OWNER}/{REPO}", "--commit", "main"),
         "Error: --commit 'main' is not a full commit SHA"),
        ("approval.py", ("github", "--repo", f"{OWNER}/{REPO}", "--pull", "404"),
         "Error: GET /pulls/404 answered HTTP 404"),
        ("comment.py", ("github", "--repo", f"{OWNER}/{REPO}", "--pull", "1", "--dir",
                        "/nonexistent/comment"),
         "Error: cannot read /nonexistent/comment: No such file or directory"),
    ],
    ids=["bad-repo", "bad-commit", "no-such-pull", "no-such-dir"],
)  # fmt: skip
def test_bad_arguments_and_missing_things_are_one_line(
    forge: Forge, tmp_path: Path, script: str, args: tuple[str, ...], error: str
) -> None:
    done, outputs = run(forge, tmp_path, script, *args)

    assert (done.returncode, done.stderr) == (1, error + "\n")
    assert outputs == {}
