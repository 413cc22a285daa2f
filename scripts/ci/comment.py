"""Posts the plan comment on a pull (or merge) request: one comment per part, sticky.

    python -I comment.py github --repo OWNER/REPO --pull N --dir DIR
        [--marker "<!-- t4o-reconcile:plan part="] [--bot github-actions[bot]]

DIR holds the parts `t4o-reconcile show --comment-dir DIR` wrote (part-001.md, …). The
comments this job made before (GET /repos/{o}/{r}/issues/{n}/comments: those by --bot, a
Bot account, whose body starts with --marker) are updated in the order of their part
number (PATCH /repos/{o}/{r}/issues/comments/{id}); parts beyond them are created
(POST /repos/{o}/{r}/issues/{n}/comments); comments left over from a bigger plan are
deleted (DELETE /repos/{o}/{r}/issues/comments/{id}). Anyone can post a comment that
starts with the marker: only the bot's own count. Reads GITHUB_TOKEN and GITHUB_API_URL.

    python -I comment.py gitlab --project ID --mr IID --dir DIR [--marker …]

The same with merge request notes (GET, POST /projects/:id/merge_requests/:iid/notes, PUT
and DELETE …/notes/:note_id), the token's own user (GET /user) being the bot. Reads
T4O_GITLAB_REPORT_TOKEN (a project access token, scope api) and CI_API_V4_URL.

Prints what it did in one line; an API that refuses is one line on stderr, exit 1.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any


def _sibling(name: str) -> ModuleType:
    """A script next to this one, by its path (python -I puts no directory on sys.path)."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"t4o_ci_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


forge = _sibling("reviewed_plan")
Refused = forge.Refused

PLAN_MARKER = "<!-- t4o-reconcile:plan part="
GITHUB_BOT = "github-actions[bot]"
# GitHub refuses a comment body over 65,536 characters; the tool's parts stay under 65,000.
MAX_BODY = 65536
_PART = re.compile(r"part-\d{3,}\.md")


def read_parts(folder: Path) -> list[str]:
    names = sorted(p.name for p in folder.iterdir() if _PART.fullmatch(p.name))
    if not names:
        raise Refused(f"{folder} holds no comment part (part-001.md, …)")
    bodies = []
    for name in names:
        body = (folder / name).read_text(encoding="utf-8")
        if len(body) > MAX_BODY:
            raise Refused(f"{folder / name} is {len(body)} characters, over {MAX_BODY}")
        bodies.append(body)
    return bodies


def _part_number(body: str, marker: str) -> int:
    digits = re.match(r"\d+", body[len(marker) :])
    return int(digits.group()) if digits else 0


def plan_of_writes(
    existing: Sequence[dict[str, Any]], bodies: Sequence[str], marker: str
) -> tuple[list[tuple[int, str]], list[str], list[int]]:
    """(updates as (id, body), creates, deletes) that make ``existing`` (ours, in any
    order) into ``bodies``; a comment already saying the body is not written again."""
    ours = sorted(existing, key=lambda c: (_part_number(str(c["body"]), marker), c["id"]))
    updates = [
        (int(c["id"]), body) for c, body in zip(ours, bodies, strict=False) if c["body"] != body
    ]
    creates = list(bodies[len(ours) :])
    deletes = [int(c["id"]) for c in ours[len(bodies) :]]
    return updates, creates, deletes


def github_sync(github: Any, pull: int, bodies: Sequence[str], marker: str, bot: str) -> str:
    comments = github.pages(f"/issues/{pull}/comments", None)
    ours = [
        c
        for c in comments
        if isinstance(c, dict)
        and isinstance(c.get("user"), dict)
        and c["user"].get("type") == "Bot"
        and c["user"].get("login") == bot
        and str(c.get("body", "")).startswith(marker)
        and isinstance(c.get("id"), int)
    ]
    updates, creates, deletes = plan_of_writes(ours, bodies, marker)
    for comment_id, body in updates:
        github.send("PATCH", f"/issues/comments/{comment_id}", {"body": body})
    for body in creates:
        github.send("POST", f"/issues/{pull}/comments", {"body": body})
    for comment_id in deletes:
        github.send("DELETE", f"/issues/comments/{comment_id}")
    return _said(f"pull request #{pull}", bodies, updates, creates, deletes)


def gitlab_bot_id(api: str, token: str) -> int:
    root = forge.Api(api.rstrip("/"), {"PRIVATE-TOKEN": token} if token else {})
    return int(forge._field(root.get("/user"), "id", int, "GET /user"))


def gitlab_sync(gitlab: Any, iid: int, bodies: Sequence[str], marker: str, bot_id: int) -> str:
    notes = gitlab.pages(f"/merge_requests/{iid}/notes")
    ours = [
        n
        for n in notes
        if isinstance(n, dict)
        and not n.get("system")
        and isinstance(n.get("author"), dict)
        and n["author"].get("id") == bot_id
        and str(n.get("body", "")).startswith(marker)
        and isinstance(n.get("id"), int)
    ]
    updates, creates, deletes = plan_of_writes(ours, bodies, marker)
    for note_id, body in updates:
        gitlab.send("PUT", f"/merge_requests/{iid}/notes/{note_id}", {"body": body})
    for body in creates:
        gitlab.send("POST", f"/merge_requests/{iid}/notes", {"body": body})
    for note_id in deletes:
        gitlab.send("DELETE", f"/merge_requests/{iid}/notes/{note_id}")
    return _said(f"merge request !{iid}", bodies, updates, creates, deletes)


def _said(
    where: str,
    bodies: Sequence[str],
    updates: Sequence[object],
    creates: Sequence[object],
    deletes: Sequence[object],
) -> str:
    return (
        f"{where}: {len(bodies)} part(s): {len(creates)} created, {len(updates)} updated,"
        f" {len(deletes)} deleted"
    )


def github_client(repo: str) -> Any:
    if not forge._REPO.fullmatch(repo):
        forge._fail(f"--repo {repo!r} is not OWNER/REPO")
    api = os.environ.get("GITHUB_API_URL", "https://api.github.com")
    return forge.GitHub(api, repo, os.environ.get("GITHUB_TOKEN", ""))


def gitlab_api() -> tuple[str, str]:
    return (
        os.environ.get("CI_API_V4_URL", "https://gitlab.com/api/v4"),
        os.environ.get("T4O_GITLAB_REPORT_TOKEN", ""),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="comment.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="forge", required=True)
    github = sub.add_parser("github", help="the pull request's comments")
    github.add_argument("--repo", required=True, help="OWNER/REPO")
    github.add_argument("--pull", required=True, type=int)
    github.add_argument("--bot", default=GITHUB_BOT, help="the login the token posts as")
    gitlab = sub.add_parser("gitlab", help="the merge request's notes")
    gitlab.add_argument("--project", required=True, help="the project's ID (CI_PROJECT_ID)")
    gitlab.add_argument("--mr", required=True, type=int)
    for each in (github, gitlab):
        each.add_argument("--dir", required=True, type=Path, help="the comment parts")
        each.add_argument("--marker", default=PLAN_MARKER)
    args = parser.parse_args(argv)
    try:
        bodies = read_parts(args.dir)
        if any(not body.startswith(args.marker) for body in bodies):
            raise Refused(f"a part in {args.dir} does not start with {args.marker!r}")
        if args.forge == "github":
            said = github_sync(github_client(args.repo), args.pull, bodies, args.marker, args.bot)
        else:
            api, token = gitlab_api()
            client = forge.GitLab(api, args.project, token)
            said = gitlab_sync(client, args.mr, bodies, args.marker, gitlab_bot_id(api, token))
    except OSError as exc:
        forge._fail(f"cannot read {args.dir}: {exc.strerror}")
    except Refused as exc:
        forge._fail(str(exc))
    print(said)
    return 0


if __name__ == "__main__":
    sys.exit(main())
