"""The plan comment on a pull (or merge) request: one comment (note) per part, sticky.
What ``scripts/ci/comment.py`` posts, and ``scripts/ci/report.py`` after the merge."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from t4o_reconcile.forge.rest import Api, GitHub, GitLab, Refused, field

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


def github_sync(github: GitHub, pull: int, bodies: Sequence[str], marker: str, bot: str) -> str:
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
    root = Api(api.rstrip("/"), {"PRIVATE-TOKEN": token} if token else {})
    return int(field(root.get("/user"), "id", int, "GET /user"))


def gitlab_sync(gitlab: GitLab, iid: int, bodies: Sequence[str], marker: str, bot_id: int) -> str:
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


def gitlab_api() -> tuple[str, str]:
    return (
        os.environ.get("CI_API_V4_URL", "https://gitlab.com/api/v4"),
        os.environ.get("T4O_GITLAB_REPORT_TOKEN", ""),
    )
