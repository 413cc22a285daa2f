"""Tells the merged pull (or merge) request what its merge did, and marks the commit.

    python -I report.py github --repo OWNER/REPO --commit SHA [--pull N]
        --report apply.json --log plan.log --run-url URL --recovery-url URL
        [--no-comment]

After the merge job (or the recovery run), whatever happened:

- apply's report (`apply --report`, JSON) says every action applied: "N changes applied at
  SHA", and the commit status `t4o-reconcile/apply` is success;
- it names failed actions: "apply failed", each failed action with its message, what
  was applied and skipped, and the way back (the recovery run); status failure;
- there is no report: the run stopped before apply wrote anything (the reviewed plan was
  refused, or not found): "refused", with the `Error:` lines of --log (the stderr of the
  steps before apply) as the reason, and the way back; status failure;
- the report is absent because there was nothing to apply (--log says "Nothing to
  apply."): "no changes", status success.

The comment (one per merge commit, updated when the run is repeated) goes to --pull, or
the merged pull request that brought --commit (GET /repos/{o}/{r}/commits/{sha}/pulls);
the status to POST /repos/{o}/{r}/statuses/{sha}. Every text from the report or the log
is escaped with t4o_reconcile.render.escape.markdown: an action's address or an API's
message cannot add a link, a mention, HTML or a hidden marker. Run it with the Action's
Python (which has t4o-reconcile), `-I`. Reads GITHUB_TOKEN and GITHUB_API_URL.

    python -I report.py gitlab --project ID --commit SHA [--mr IID] --report … --log …
        --run-url URL --recovery-url URL [--no-comment]

The same as a merge request note and a commit status (POST /projects/:id/statuses/:sha,
name `t4o-reconcile/apply`, state success or failed). Reads T4O_GITLAB_REPORT_TOKEN.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from t4o_reconcile.forge import comments as comment
from t4o_reconcile.forge import rest as forge
from t4o_reconcile.forge.rest import Refused
from t4o_reconcile.render.escape import code_span, markdown

CONTEXT = "t4o-reconcile/apply"
MARKER = "<!-- t4o-reconcile:apply sha="
_MAX_LISTED = 20  # failed actions listed by name; the rest are counted
_MAX_REPORT = 64 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    ok: bool
    headline: str  # the comment's first line, Markdown
    status: str  # the commit status's description, plain, at most 140 characters
    details: tuple[str, ...] = ()  # Markdown lines


def _short(sha: str) -> str:
    return sha[:12]


def read_report(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    if path.stat().st_size > _MAX_REPORT:
        raise Refused(f"{path} is over {_MAX_REPORT} bytes")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        raise Refused(f"{path} is not JSON: expected apply --report's document") from None
    if not isinstance(document, dict) or not isinstance(document.get("counts"), dict):
        raise Refused(f"{path}: expected apply --report's document (counts, actions)")
    return document


def _count(document: dict[str, Any], name: str) -> int:
    value = document["counts"].get(name, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def outcome_of(document: dict[str, Any] | None, log: str, sha: str) -> Outcome:
    at = f"`{_short(sha)}`"
    if document is None:
        errors = [line.removeprefix("Error: ") for line in log.splitlines()
                  if line.startswith("Error: ")]  # fmt: skip
        if not errors and "Nothing to apply." in log:
            return Outcome(True, f"✅ **No changes to apply** at {at}: live matched.",
                           f"no changes at {_short(sha)}")  # fmt: skip
        reasons = tuple(f"- {markdown(e)}" for e in errors[:_MAX_LISTED]) or (
            "- the run stopped before apply (see the run's log)",
        )
        return Outcome(False, f"⛔ **Refused**: nothing was applied at {at}.",
                       f"refused, nothing applied at {_short(sha)}", reasons)  # fmt: skip
    applied, failed = _count(document, "applied"), _count(document, "failed")
    skipped = _count(document, "skipped")
    if document.get("ok") is True and not failed:
        return Outcome(True, f"✅ **{applied} change(s) applied** at {at}.",
                       f"{applied} change(s) applied at {_short(sha)}")  # fmt: skip
    actions = document.get("actions")
    failures = [
        a for a in (actions if isinstance(actions, list) else [])
        if isinstance(a, dict) and a.get("outcome") == "failed"
    ]  # fmt: skip
    lines = [
        f"- {code_span(a.get('address', '?'))}: {markdown(a.get('message', ''))}"
        for a in failures[:_MAX_LISTED]
    ]
    if len(failures) > _MAX_LISTED:
        lines.append(f"- … and {len(failures) - _MAX_LISTED} more failed action(s)")
    headline = (
        f"❌ **Apply failed** at {at}: {applied} applied, {failed} failed, {skipped} skipped."
    )
    return Outcome(False, headline,
                   f"failed: {applied} applied, {failed} failed, {skipped} skipped",
                   tuple(lines))  # fmt: skip


def body_of(outcome: Outcome, sha: str, run_url: str, recovery_url: str) -> str:
    parts = [f"{MARKER}{sha} -->", "### t4o-reconcile apply", "", outcome.headline]
    if outcome.details:
        parts += ["", "Why:" if not outcome.ok else "", *outcome.details]
    parts += ["", f"[The run]({markdown(run_url)})"]
    if not outcome.ok:
        parts += [
            "",
            "**The way back**: main is ahead of live until this is fixed. Fix the cause"
            " (a pull request, if the files are wrong), then run the recovery:"
            f" [run the apply workflow by hand]({markdown(recovery_url)}) (tenants: empty"
            " for all, or the ones named above). It plans main against live as it is now,"
            " shows that plan in its summary, and applies it once the reviewers of its"
            " protected environment approve; it converges from any half-applied state.",
        ]
    return "\n".join(parts) + "\n"


def _description(text: str) -> str:
    return text if len(text) <= 140 else text[:139] + "…"


def github_report(args: argparse.Namespace, outcome: Outcome, body: str) -> str:
    github = forge.github_client(args.repo)
    said = []
    if not args.no_comment:
        pull = args.pull
        if pull is None:
            pulls = github.pages(f"/commits/{args.commit}/pulls", None)
            merged = [p for p in pulls if isinstance(p, dict) and p.get("merged_at")]
            pull = merged[0]["number"] if merged else None
        if isinstance(pull, int):
            marker = f"{MARKER}{args.commit}"
            said.append(comment.github_sync(github, pull, [body], marker, args.bot))
        else:
            said.append(f"commit {args.commit} came from no merged pull request: no comment")
    github.send(
        "POST",
        f"/statuses/{args.commit}",
        {
            "state": "success" if outcome.ok else "failure",
            "context": CONTEXT,
            "description": _description(outcome.status),
            "target_url": args.run_url,
        },
    )
    said.append(f"status {CONTEXT}: {'success' if outcome.ok else 'failure'}")
    return "; ".join(said)


def gitlab_report(args: argparse.Namespace, outcome: Outcome, body: str) -> str:
    api, token = comment.gitlab_api()
    gitlab = forge.GitLab(api, args.project, token)
    said = []
    if not args.no_comment:
        iid = args.mr
        if iid is None:
            requests = gitlab.pages(f"/repository/commits/{args.commit}/merge_requests")
            merged = [r for r in requests if isinstance(r, dict) and r.get("state") == "merged"]
            iid = merged[0]["iid"] if merged else None
        if isinstance(iid, int):
            marker = f"{MARKER}{args.commit}"
            bot = comment.gitlab_bot_id(api, token)
            said.append(comment.gitlab_sync(gitlab, iid, [body], marker, bot))
        else:
            said.append(f"commit {args.commit} came from no merged merge request: no note")
    gitlab.send(
        "POST",
        f"/statuses/{args.commit}",
        {
            "state": "success" if outcome.ok else "failed",
            "name": CONTEXT,
            "description": _description(outcome.status),
            "target_url": args.run_url,
        },
    )
    said.append(f"status {CONTEXT}: {'success' if outcome.ok else 'failed'}")
    return "; ".join(said)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="report.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="forge", required=True)
    github = sub.add_parser("github", help="comment and commit status on GitHub")
    github.add_argument("--repo", required=True, help="OWNER/REPO")
    github.add_argument("--pull", type=int, help="the merged pull request (default: found)")
    github.add_argument("--bot", default=comment.GITHUB_BOT)
    gitlab = sub.add_parser("gitlab", help="note and commit status on GitLab")
    gitlab.add_argument("--project", required=True, help="the project's ID (CI_PROJECT_ID)")
    gitlab.add_argument("--mr", type=int, help="the merged merge request (default: found)")
    for each in (github, gitlab):
        each.add_argument("--commit", required=True, help="the commit applied")
        each.add_argument("--report", required=True, type=Path, help="apply --report's file")
        each.add_argument("--log", type=Path, help="stderr of the steps before apply")
        each.add_argument("--run-url", required=True, help="this run, for the status")
        each.add_argument("--recovery-url", required=True, help="where to start the recovery")
        each.add_argument("--no-comment", action="store_true", help="the status only")
    args = parser.parse_args(argv)
    if not forge.SHA.fullmatch(args.commit):
        forge.fail(f"--commit {args.commit!r} is not a full commit SHA")
    for url in (args.run_url, args.recovery_url):
        if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
            forge.fail(f"{url!r} is not an https URL")
    try:
        document = read_report(args.report)
        log = ""
        if args.log is not None and args.log.is_file():
            log = args.log.read_text(encoding="utf-8", errors="replace")
        outcome = outcome_of(document, log, args.commit)
        body = body_of(outcome, args.commit, args.run_url, args.recovery_url)
        said = (github_report if args.forge == "github" else gitlab_report)(args, outcome, body)
    except Refused as exc:
        forge.fail(str(exc))
    print(f"{outcome.status}; {said}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
