"""Whether a pull (or merge) request's approval label counts, read through the API.

    python -I approval.py github --repo OWNER/REPO (--pull N | --commit SHA)
        [--label t4o:allow-deletes]

The label approves the changes that need it (deletes of users, bank accounts or tenants,
more than a tenant's safety share, a secret sent to a new destination: the tool's
--allow-deletes) only when it is on the pull request now, and the person who added it
last (GET /repos/{o}/{r}/issues/{n}/events, the newest `labeled` event for it) is not the
pull request's author (GET /repos/{o}/{r}/pulls/{n}, `user`) and has write, maintain or
admin permission on the repository (GET /repos/{o}/{r}/collaborators/{login}/permission).
With --commit, the pull request is the merged one that brought the commit
(GET /repos/{o}/{r}/commits/{sha}/pulls): the merge job's call, at merge time.

With --workflow (the plan workflow's file), a label added before the pull request's head
was pushed does not count either: an approval is for the changes the approver saw. When
the head was pushed is when GitHub created the first run of that workflow for it
(GET /repos/{o}/{r}/actions/runs?head_sha=...&event=pull_request, `created_at`), a time
the branch cannot set (a commit's own date can be anything). Push again, and the label
must be added again (removed and added) after the new plan.

It writes to $GITHUB_OUTPUT: `approved` (true or false), `allow-deletes` (--allow-deletes
or empty), `approved-by` (who and when: "@login (maintain), 2026-12-07 10:00 UTC") and
`why` (one line: who approved, or why the label does not count), and prints `why`.

    python -I approval.py gitlab --project ID (--mr IID | --commit SHA)
        [--label t4o:allow-deletes] [--approval-out FILE] [--approved-by-out FILE]

The same on GitLab: the merge request (GET /projects/:id/merge_requests/:iid, `author`,
`labels`), its label events (GET /projects/:id/merge_requests/:iid/resource_label_events,
the newest `add` of the label) and the member who added it
(GET /projects/:id/members/all/:user_id: Developer, 30, or more). --approval-out gets
`--allow-deletes` or nothing; --approved-by-out the text. It reads T4O_GITLAB_READ_TOKEN.

A label that does not count is not an error: the script exits 0 and says why; the tool's
`plan --detailed-exitcode` then exits 3 where an approval is needed. An API that cannot be
read is an error (one line, exit 1): the job must not go on as if nobody approved, nor as
if somebody had.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from t4o_reconcile.forge import rest as forge
from t4o_reconcile.forge.rest import Refused

# Repository roles that may approve. GitHub's `permission` is admin, write, read or none
# (maintain shows as write, triage as read); `role_name` names the role itself.
GITHUB_ROLES = frozenset({"admin", "maintain", "write"})
GITLAB_DEVELOPER = 30  # access_level: Developer 30, Maintainer 40, Owner 50
# A GitHub login (an App's bot account ends in [bot]): it becomes a URL path segment.
_LOGIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?")


@dataclass(frozen=True)
class Verdict:
    approved: bool
    why: str
    by: str = ""  # who and when, for the comment


def _when(stamp: str) -> str:
    """An API timestamp as people read it: 2026-12-07 10:00 UTC."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        raise Refused(f"the label event's time {stamp!r} is not a timestamp") from None
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _login(user: Any, where: str) -> str:
    login = forge.field(user, "login", str, where)
    return str(login)


def github_pull_of(github: forge.GitHub, commit: str) -> int:
    pulls = github.pages(f"/commits/{commit}/pulls", None)
    merged = [p for p in pulls if isinstance(p, dict) and p.get("merged_at")]
    if not merged:
        raise Refused(f"commit {commit} came from no merged pull request")
    return int(forge.field(merged[0], "number", int, f"commit {commit}"))


def pushed_at(github: forge.GitHub, head: str, workflow: str) -> str | None:
    """When the head was pushed: the creation of the first run of the plan workflow."""
    runs = github.pages("/actions/runs", "workflow_runs", head_sha=head, event="pull_request")
    times = [
        str(r.get("created_at"))
        for r in runs
        if isinstance(r, dict)
        and r.get("head_sha") == head
        and forge.workflow_path(r, github.repo) == workflow
        and isinstance(r.get("created_at"), str)
    ]
    return min(times, key=_moment) if times else None


def _moment(stamp: str) -> datetime:
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise Refused(f"{stamp!r} is not a timestamp") from None


def github_verdict(
    github: forge.GitHub, pull: int, label: str, workflow: str | None = None
) -> Verdict:
    where = f"pull request #{pull}"
    request = github.get(f"/pulls/{pull}")
    author = _login(forge.field(request, "user", dict, where), where)
    names = {
        item.get("name") for item in forge.field(request, "labels", list, where)
        if isinstance(item, dict)
    }  # fmt: skip
    if label not in names:
        return Verdict(False, f"{where} does not carry the label {label}")
    events = [
        e
        for e in github.pages(f"/issues/{pull}/events", None)
        if isinstance(e, dict)
        and e.get("event") == "labeled"
        and isinstance(e.get("label"), dict)
        and e["label"].get("name") == label
    ]
    if not events:
        raise Refused(f"{where} carries {label}, but no event says who added it")
    newest = max(events, key=lambda e: (str(e.get("created_at", "")), e.get("id", 0)))
    actor = _login(forge.field(newest, "actor", dict, "the label event"), "the label event")
    labelled_at = str(forge.field(newest, "created_at", str, "the label event"))
    when = _when(labelled_at)
    if workflow is not None:
        head = forge.field(forge.field(request, "head", dict, where), "sha", str, where)
        pushed = pushed_at(github, head, workflow)
        if pushed is None:
            return Verdict(False, f"no run of {workflow} for {head}: when it was pushed is"
                           f" unknown, so {label} cannot approve it")  # fmt: skip
        if _moment(labelled_at) < _moment(pushed):
            return Verdict(False, f"{label} was added at {when}, before the newest commits"
                           f" were pushed ({_when(pushed)}): remove it and add it again"
                           " once the new plan is read")  # fmt: skip
    if actor.lower() == author.lower():
        return Verdict(False, f"{label} was added by @{actor}, the author of {where}: "
                       "someone else with write access must add it")  # fmt: skip
    if not _LOGIN.fullmatch(actor):
        return Verdict(False, f"{label} was added by {actor!r}, which is not a GitHub login")
    try:
        permission = github.get(f"/collaborators/{actor}/permission")
    except Refused as exc:
        if "HTTP 404" not in str(exc):
            raise
        permission = {"permission": "none", "role_name": "none"}
    role = str(permission.get("role_name") or permission.get("permission") or "none")
    if role not in GITHUB_ROLES and permission.get("permission") not in {"admin", "write"}:
        return Verdict(False, f"{label} was added by @{actor}, who has {role} access: "
                       "it takes write, maintain or admin")  # fmt: skip
    by = f"@{actor} ({role}), {when}"
    return Verdict(True, f"{label} added by {by}", by)


def gitlab_iid_of(gitlab: forge.GitLab, commit: str) -> int:
    requests = gitlab.pages(f"/repository/commits/{commit}/merge_requests")
    merged = [r for r in requests if isinstance(r, dict) and r.get("state") == "merged"]
    if not merged:
        raise Refused(f"commit {commit} came from no merged merge request")
    return int(forge.field(merged[0], "iid", int, f"commit {commit}"))


def gitlab_verdict(gitlab: forge.GitLab, iid: int, label: str) -> Verdict:
    where = f"merge request !{iid}"
    request = gitlab.get(f"/merge_requests/{iid}")
    author = forge.field(forge.field(request, "author", dict, where), "id", int, where)
    labels = forge.field(request, "labels", list, where)
    if label not in labels:
        return Verdict(False, f"{where} does not carry the label {label}")
    events = [
        e
        for e in gitlab.pages(f"/merge_requests/{iid}/resource_label_events")
        if isinstance(e, dict)
        and e.get("action") == "add"
        and isinstance(e.get("label"), dict)
        and e["label"].get("name") == label
    ]
    if not events:
        raise Refused(f"{where} carries {label}, but no event says who added it")
    newest = max(events, key=lambda e: (str(e.get("created_at", "")), e.get("id", 0)))
    user = forge.field(newest, "user", dict, "the label event")
    user_id = forge.field(user, "id", int, "the label event")
    name = str(forge.field(user, "username", str, "the label event"))
    when = _when(str(forge.field(newest, "created_at", str, "the label event")))
    if user_id == author:
        return Verdict(False, f"{label} was added by @{name}, the author of {where}: "
                       "someone else with Developer access or more must add it")  # fmt: skip
    try:
        member = gitlab.get(f"/members/all/{user_id}")
    except Refused as exc:
        if "HTTP 404" not in str(exc):
            raise
        member = {"access_level": 0}
    level = member.get("access_level") if isinstance(member, dict) else 0
    if not isinstance(level, int) or level < GITLAB_DEVELOPER:
        return Verdict(False, f"{label} was added by @{name}, whose access level is {level}: "
                       f"it takes Developer ({GITLAB_DEVELOPER}) or more")  # fmt: skip
    by = f"@{name} (access level {level}), {when}"
    return Verdict(True, f"{label} added by {by}", by)


def _flat(text: str) -> str:
    # One line whatever the API held: no newline can start a workflow command or an output.
    return text.replace("\r", "\\r").replace("\n", "\\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="approval.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="forge", required=True)
    github = sub.add_parser("github", help="a pull request's approval label")
    github.add_argument("--repo", required=True, help="OWNER/REPO")
    which = github.add_mutually_exclusive_group(required=True)
    which.add_argument("--pull", type=int, help="the pull request's number")
    which.add_argument("--commit", help="a merge commit SHA: its merged pull request")
    github.add_argument("--label", default=forge.APPROVAL_LABEL)
    github.add_argument(
        "--workflow",
        help="the plan workflow's file: a label added before the head's first run of it"
        " (before the push) does not count",
    )
    gitlab = sub.add_parser("gitlab", help="a merge request's approval label")
    gitlab.add_argument("--project", required=True, help="the project's ID (CI_PROJECT_ID)")
    which = gitlab.add_mutually_exclusive_group(required=True)
    which.add_argument("--mr", type=int, help="the merge request's IID")
    which.add_argument("--commit", help="a merge commit SHA: its merged merge request")
    gitlab.add_argument("--label", default=forge.APPROVAL_LABEL)
    gitlab.add_argument("--approval-out", help="write --allow-deletes here when approved")
    gitlab.add_argument("--approved-by-out", help="write who approved and when here")
    args = parser.parse_args(argv)

    if args.commit is not None and not forge.SHA.fullmatch(args.commit):
        forge.fail(f"--commit {args.commit!r} is not a full commit SHA")
    try:
        if args.forge == "github":
            repo = forge.github_client(args.repo)
            pull = args.pull if args.pull is not None else github_pull_of(repo, args.commit)
            verdict = github_verdict(repo, pull, args.label, args.workflow)
        else:
            api = os.environ.get("CI_API_V4_URL", "https://gitlab.com/api/v4")
            project = forge.GitLab(api, args.project, os.environ.get("T4O_GITLAB_READ_TOKEN", ""))
            iid = args.mr if args.mr is not None else gitlab_iid_of(project, args.commit)
            verdict = gitlab_verdict(project, iid, args.label)
    except Refused as exc:
        forge.fail(str(exc))
    flag = "--allow-deletes" if verdict.approved else ""
    if args.forge == "github":
        output = os.environ.get("GITHUB_OUTPUT")
        if output:
            with open(output, "a", encoding="utf-8") as out:
                out.write(f"approved={'true' if verdict.approved else 'false'}\n")
                out.write(f"allow-deletes={flag}\n")
                out.write(f"approved-by={_flat(verdict.by)}\n")
                out.write(f"why={_flat(verdict.why)}\n")
    else:
        for path, text in ((args.approval_out, flag), (args.approved_by_out, verdict.by)):
            if path:
                try:
                    with open(path, "x", encoding="utf-8") as out:
                        out.write(f"{_flat(text)}\n" if text else "")
                except OSError as exc:
                    forge.fail(f"cannot write {path}: {exc.strerror}")
    print(("Approved: " if verdict.approved else "Not approved: ") + _flat(verdict.why))
    return 0


if __name__ == "__main__":
    sys.exit(main())
