"""A local stand-in for the GitHub and GitLab REST endpoints that scripts/ci/reviewed_plan.py
calls, answering with the shapes (and the filtering) of the real APIs:

GitHub (REST API version 2022-11-28):
- GET /repos/{owner}/{repo}/commits/{sha}/pulls: an array of pull requests;
- GET /repos/{owner}/{repo}/actions/runs?head_sha=&event=: {"total_count", "workflow_runs"},
  filtered by head_sha and event as GitHub filters them;
- GET /repos/{owner}/{repo}/actions/runs/{run_id}/artifacts?name=: {"total_count",
  "artifacts"}, filtered by name.

GitLab (API v4):
- GET /projects/:id/repository/commits/:sha/merge_requests: an array of merge requests;
- GET /projects/:id/merge_requests/:iid/pipelines: an array of pipelines, newest first;
- GET /projects/:id/pipelines/:pipeline_id/jobs: an array of jobs;
- GET /projects/:id/jobs/:job_id/artifacts/*artifact_path: the file's bytes.

And what the approval check (scripts/ci/approval.py), the comment (scripts/ci/comment.py)
and the merge report (scripts/ci/report.py) call:

GitHub: GET /pulls/{n}; GET /issues/{n}/events (issue events: `labeled` with `actor`,
`label` and `created_at`); GET /collaborators/{login}/permission (`permission`,
`role_name`, `user`; 404 for a stranger); GET and POST /issues/{n}/comments, PATCH and
DELETE /issues/comments/{id} (comments with `id`, `user`, `body`, `created_at`);
POST /statuses/{sha} (201 and the status, `context`, `state`, `creator`) and
GET /commits/{sha}/statuses. Lists carry a `Link` header with rel="next" while there are
more pages, as GitHub's do.

GitLab: GET /merge_requests/:iid; GET /merge_requests/:iid/resource_label_events (`user`,
`label`, `action` add or remove, `created_at`); GET /members/all/:user_id
(`access_level`; 404 for a non-member); GET and POST /merge_requests/:iid/notes, PUT and
DELETE /merge_requests/:iid/notes/:note_id (notes with `id`, `body`, `author`,
`system`); POST /statuses/:sha (201; `name`, `status`) and
GET /repository/commits/:sha/statuses.

Without the expected token both answer 401 as the real ones do. Every request is recorded
(method and path), and what was written is kept for the tests to read."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

OWNER, REPO = "club-admin", "tenants"
GITHUB_TOKEN = "ghs_standin"
GITLAB_TOKEN = "glpat-standin"
PROJECT = 4711
API = f"https://api.github.com/repos/{OWNER}/{REPO}"


@dataclass
class Forge:
    pulls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # commit → pulls
    runs: list[dict[str, Any]] = field(default_factory=list)
    artifacts: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # run → list
    merge_requests: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    pipelines: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # iid → list
    jobs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)  # pipeline → list
    files: dict[tuple[int, str], bytes] = field(default_factory=dict)  # (job, path) → bytes
    requests: list[str] = field(default_factory=list)
    url: str = ""
    # GitHub: pull number → pull; issue number → events, comments; login → permission.
    pull_requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    issue_events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)  # login → role_name
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # sha → list
    # GitLab: iid → merge request, label events, notes; user id → access level.
    merge_request_by_iid: dict[int, dict[str, Any]] = field(default_factory=dict)
    label_events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    members: dict[int, int] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    gitlab_statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # Who the token belongs to: the author of what the scripts write.
    bot: dict[str, Any] = field(
        default_factory=lambda: github_user("github-actions[bot]", 41898282, "Bot")
    )
    gitlab_bot: dict[str, Any] = field(default_factory=lambda: gitlab_user(77, "project_4711_bot"))
    next_id: int = 5000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def write(self, method: str, path: str, body: dict[str, Any], headers: Any) -> tuple[int, Any]:
        """POST, PATCH, PUT and DELETE, as the real APIs answer them."""
        if path.startswith("/repos/"):
            if headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
                return 401, {"message": "Bad credentials"}
            with self.lock:
                return self.github_write(method, path.removeprefix(f"/repos/{OWNER}/{REPO}"), body)
        if headers.get("PRIVATE-TOKEN") != GITLAB_TOKEN:
            return 401, {"message": "401 Unauthorized"}
        with self.lock:
            return self.gitlab_write(method, path.removeprefix(f"/api/v4/projects/{PROJECT}"), body)

    def github_write(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if method == "POST" and parts[0] == "issues" and parts[2:] == ["comments"]:
            return self.github_new_comment(int(parts[1]), body)
        if parts[:2] == ["issues", "comments"] and len(parts) == 3:
            return self.github_edit_comment(method, int(parts[2]), body)
        if method == "POST" and parts[0] == "statuses" and len(parts) == 2:
            return self.github_status(parts[1], body)
        return GITHUB_MISSING

    def github_new_comment(self, number: int, body: dict[str, Any]) -> tuple[int, Any]:
        if number not in self.pull_requests:
            return GITHUB_MISSING
        if not isinstance(body.get("body"), str):
            return 422, {"message": 'Invalid request.\n\n"body" wasn\'t supplied.'}
        made = github_comment(self.new_id(), number, body["body"], self.bot)
        self.comments.setdefault(number, []).append(made)
        return 201, made

    def github_edit_comment(
        self, method: str, comment_id: int, body: dict[str, Any]
    ) -> tuple[int, Any]:
        for listed in self.comments.values():
            for i, comment in enumerate(listed):
                if comment["id"] != comment_id:
                    continue
                if comment["user"]["login"] != self.bot["login"]:
                    return 403, {"message": "Resource not accessible by integration"}
                if method == "DELETE":
                    del listed[i]
                    return 204, b""
                if method == "PATCH":
                    listed[i] = {**comment, "body": body["body"],
                                 "updated_at": "2026-12-07T12:00:00Z"}  # fmt: skip
                    return 200, listed[i]
        return GITHUB_MISSING

    def github_status(self, sha: str, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("state") not in {"error", "failure", "pending", "success"}:
            return 422, {"message": "Validation Failed"}
        if len(str(body.get("description", ""))) > 140:
            return 422, {"message": "Validation Failed: description is too long"}
        made = {
            "url": f"{API}/statuses/{sha}",
            "id": self.new_id(),
            "node_id": "SC_kwDOstatus",
            "state": body["state"],
            "description": body.get("description"),
            "target_url": body.get("target_url"),
            "context": body.get("context", "default"),
            "created_at": "2026-12-07T12:00:00Z",
            "updated_at": "2026-12-07T12:00:00Z",
            "creator": self.bot,
        }
        self.statuses.setdefault(sha, []).insert(0, made)
        return 201, made

    def gitlab_write(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[0] == "merge_requests" and len(parts) >= 3 and parts[2] == "notes":
            iid = int(parts[1])
            if iid not in self.merge_request_by_iid:
                return GITLAB_MISSING
            listed = self.notes.setdefault(iid, [])
            if method == "POST" and len(parts) == 3:
                if not isinstance(body.get("body"), str):
                    return 400, {"message": "400 Bad request - body is missing"}
                made = gitlab_note(self.new_id(), iid, body["body"], self.gitlab_bot)
                listed.append(made)
                return 201, made
            if len(parts) == 4:
                return self.gitlab_edit_note(method, listed, int(parts[3]), body)
        if method == "POST" and parts[0] == "statuses" and len(parts) == 2:
            return self.gitlab_status(parts[1], body)
        return GITLAB_MISSING

    def gitlab_edit_note(
        self, method: str, listed: list[dict[str, Any]], note_id: int, body: dict[str, Any]
    ) -> tuple[int, Any]:
        for i, note in enumerate(listed):
            if note["id"] != note_id:
                continue
            if note["author"]["id"] != self.gitlab_bot["id"]:
                return 403, {"message": "403 Forbidden"}
            if method == "DELETE":
                del listed[i]
                return 204, b""
            if method == "PUT":
                listed[i] = {**note, "body": body["body"],
                             "updated_at": "2026-12-07T12:00:00.000Z"}  # fmt: skip
                return 200, listed[i]
        return GITLAB_MISSING

    def gitlab_status(self, sha: str, body: dict[str, Any]) -> tuple[int, Any]:
        if body.get("state") not in {"pending", "running", "success", "failed", "canceled"}:
            return 400, {"message": "state does not have a valid value"}
        made = {
            "id": self.new_id(),
            "sha": sha,
            "ref": "main",
            "status": body["state"],
            "name": body.get("name", "default"),
            "target_url": body.get("target_url"),
            "description": body.get("description"),
            "created_at": "2026-12-07T12:00:00.000Z",
            "author": self.gitlab_bot,
        }
        self.gitlab_statuses.setdefault(sha, []).insert(0, made)
        return 201, made

    def answer(self, path: str, query: dict[str, str], headers: Any) -> tuple[int, Any]:
        if path.startswith("/repos/"):
            if headers.get("Authorization") != f"Bearer {GITHUB_TOKEN}":
                return 401, {
                    "message": "Bad credentials",
                    "documentation_url": "https://docs.github.com/rest",
                    "status": "401",
                }
            return self.github(path.removeprefix(f"/repos/{OWNER}/{REPO}"), query)
        if headers.get("PRIVATE-TOKEN") != GITLAB_TOKEN:
            return 401, {"message": "401 Unauthorized"}
        if path == "/api/v4/user":
            return 200, self.gitlab_bot
        return self.gitlab(path.removeprefix(f"/api/v4/projects/{PROJECT}"), query)

    def github(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "commits" and parts[2] == "pulls":
            return 200, page(self.pulls.get(parts[1], []), query)
        if parts == ["actions", "runs"]:
            runs = [
                r
                for r in self.runs
                if r["head_sha"] == query.get("head_sha", r["head_sha"])
                and r["event"] == query.get("event", r["event"])
            ]
            runs.sort(key=lambda r: r["id"], reverse=True)
            return 200, {"total_count": len(runs), "workflow_runs": page(runs, query)}
        if len(parts) == 4 and parts[:2] == ["actions", "runs"] and parts[3] == "artifacts":
            found = [
                a
                for a in self.artifacts.get(int(parts[2]), [])
                if a["name"] == query.get("name", a["name"])
            ]
            return 200, {"total_count": len(found), "artifacts": page(found, query)}
        if len(parts) == 2 and parts[0] == "pulls" and int(parts[1]) in self.pull_requests:
            return 200, self.pull_requests[int(parts[1])]
        if len(parts) == 3 and parts[0] == "issues" and parts[2] == "events":
            return 200, page(self.issue_events.get(int(parts[1]), []), query)
        if len(parts) == 3 and parts[0] == "issues" and parts[2] == "comments":
            return 200, page(self.comments.get(int(parts[1]), []), query)
        if len(parts) == 3 and parts[0] == "collaborators" and parts[2] == "permission":
            role = self.permissions.get(parts[1])
            if role is not None:
                permission = {"maintain": "write", "triage": "read"}.get(role, role)
                user = github_user(parts[1], 300 + len(parts[1]))
                return 200, {"permission": permission, "role_name": role, "user": user}
            return 404, {"message": f"{parts[1]} is not a user",
                         "documentation_url": "https://docs.github.com/rest"}  # fmt: skip
        if len(parts) == 3 and parts[0] == "commits" and parts[2] == "statuses":
            return 200, page(self.statuses.get(parts[1], []), query)
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}

    def gitlab(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[:2] == ["repository", "commits"] and parts[3:] == ["merge_requests"]:
            return 200, page(self.merge_requests.get(parts[2], []), query)
        if parts[0] == "merge_requests" and parts[2:] == ["pipelines"]:
            return 200, page(self.pipelines.get(int(parts[1]), []), query)
        if parts[0] == "pipelines" and parts[2:] == ["jobs"]:
            return 200, page(self.jobs.get(int(parts[1]), []), query)
        if parts[0] == "merge_requests" or parts[0] == "members" or parts[3:] == ["statuses"]:
            return self.gitlab_reviewing(parts, query)
        if parts[0] == "jobs" and parts[2] == "artifacts":
            key = (int(parts[1]), urllib.parse.unquote("/".join(parts[3:])))
            if key in self.files:
                return 200, self.files[key]
        return 404, {"message": "404 Not Found"}

    def gitlab_reviewing(self, parts: list[str], query: dict[str, str]) -> tuple[int, Any]:
        """What the approval check and the report read on GitLab."""
        if parts[0] == "merge_requests" and len(parts) == 2:
            if int(parts[1]) in self.merge_request_by_iid:
                return 200, self.merge_request_by_iid[int(parts[1])]
        elif parts[0] == "merge_requests" and parts[2:] == ["resource_label_events"]:
            return 200, page(self.label_events.get(int(parts[1]), []), query)
        elif parts[0] == "merge_requests" and parts[2:] == ["notes"]:
            return 200, page(self.notes.get(int(parts[1]), []), query)
        elif parts[:2] == ["members", "all"] and len(parts) == 3:
            level = self.members.get(int(parts[2]))
            if level is not None:
                return 200, {**gitlab_user(int(parts[2]), f"user{parts[2]}"),
                             "access_level": level}  # fmt: skip
        elif parts[:2] == ["repository", "commits"] and parts[3:] == ["statuses"]:
            return 200, page(self.gitlab_statuses.get(parts[2], []), query)
        return GITLAB_MISSING


GITHUB_MISSING = 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
GITLAB_MISSING = 404, {"message": "404 Not found"}


def page(items: list[Any], query: dict[str, str]) -> list[Any]:
    size = int(query.get("per_page", "30"))
    number = int(query.get("page", "1"))
    return items[(number - 1) * size : number * size]


ServedForge = TypeVar("ServedForge", bound=Forge)


@contextmanager
def serve(forge: ServedForge) -> Iterator[ServedForge]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            forge.requests.append(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            status, body = forge.answer(url.path, query, self.headers)
            links = {}
            if isinstance(body, list) and len(body) == int(query.get("per_page", "30")):
                following = {**query, "page": str(int(query.get("page", "1")) + 1)}
                next_url = f"{forge.url}{url.path}?{urllib.parse.urlencode(following)}"
                links["Link"] = f'<{next_url}>; rel="next"'
            self.reply(status, body, links)

        def reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            kind = "application/octet-stream" if isinstance(body, bytes) else "application/json"
            if status != 204:
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def written(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            forge.requests.append(f"{self.command} {self.path}")
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                self.reply(400, {"message": "Problems parsing JSON"})
                return
            status, answer = forge.write(self.command, url.path, body, self.headers)
            self.reply(status, answer)

        do_POST = do_PATCH = do_PUT = do_DELETE = written

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    forge.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield forge
    finally:
        server.shutdown()
        server.server_close()


# Objects as the APIs return them (the fields that matter, and enough of the rest that a
# script reading the wrong field would notice).


def github_pull(
    number: int, head: str, merged: bool = True, labels: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "labels": [
            {"id": 40 + i, "name": name, "color": "ededed"} for i, name in enumerate(labels)
        ],
        "url": f"{API}/pulls/{number}",
        "id": 1000 + number,
        "number": number,
        "state": "closed",
        "title": f"Tenant change {number}",
        "user": {"login": "reviewer", "id": 7, "type": "User"},
        "merged_at": "2026-12-07T10:00:00Z" if merged else None,
        "merge_commit_sha": "f" * 40,
        "head": {"label": f"{OWNER}:change-{number}", "ref": f"change-{number}", "sha": head},
        "base": {"label": f"{OWNER}:main", "ref": "main", "sha": "b" * 40},
    }


def github_run(
    run_id: int,
    head: str,
    *,
    path: str = ".github/workflows/t4o-plan.yml",
    event: str = "pull_request",
    conclusion: str | None = "success",
    number: int | None = None,
    created_at: str = "2026-12-07T09:00:00Z",
) -> dict[str, Any]:
    return {
        "id": run_id,
        "name": "t4o-reconcile plan",
        "node_id": f"WFR_{run_id}",
        "head_branch": "change",
        "head_sha": head,
        "path": path,
        "display_title": "Tenant change",
        "run_number": number if number is not None else run_id,
        "event": event,
        "status": "completed" if conclusion else "in_progress",
        "conclusion": conclusion,
        "workflow_id": 161335 if path.endswith("t4o-plan.yml") else 999,
        "check_suite_id": 42 + run_id,
        "url": f"{API}/actions/runs/{run_id}",
        "html_url": f"https://github.com/{OWNER}/{REPO}/actions/runs/{run_id}",
        "pull_requests": [],
        "created_at": created_at,
        "updated_at": "2026-12-07T09:05:00Z",
        "run_attempt": 1,
        "run_started_at": "2026-12-07T09:00:00Z",
        "artifacts_url": f"{API}/actions/runs/{run_id}/artifacts",
        "head_commit": {"id": head, "tree_id": "c" * 40, "message": "change"},
        "repository": {"id": 42, "full_name": f"{OWNER}/{REPO}"},
        "head_repository": {"id": 42, "full_name": f"{OWNER}/{REPO}"},
    }


def github_artifact(
    artifact_id: int, name: str, run_id: int, head: str, *, expired: bool = False
) -> dict[str, Any]:
    return {
        "id": artifact_id,
        "node_id": f"MDg6QXJ0aWZhY3Qx{artifact_id}",
        "name": name,
        "size_in_bytes": 2048,
        "url": f"{API}/actions/artifacts/{artifact_id}",
        "archive_download_url": f"{API}/actions/artifacts/{artifact_id}/zip",
        "expired": expired,
        "digest": "sha256:" + "0" * 64,
        "created_at": "2026-12-07T09:04:00Z",
        "expires_at": "2027-01-06T09:04:00Z",
        "updated_at": "2026-12-07T09:04:00Z",
        "workflow_run": {
            "id": run_id,
            "repository_id": 42,
            "head_repository_id": 42,
            "head_branch": "change",
            "head_sha": head,
        },
    }


def gitlab_merge_request(
    iid: int,
    head: str,
    state: str = "merged",
    labels: tuple[str, ...] = (),
    author: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "labels": list(labels),
        "author": author or gitlab_user(101, "author"),
        "id": 9000 + iid,
        "iid": iid,
        "project_id": PROJECT,
        "title": f"Tenant change {iid}",
        "state": state,
        "target_branch": "main",
        "source_branch": f"change-{iid}",
        "sha": head,
        "merge_commit_sha": "f" * 40,
        "squash_commit_sha": None,
        "web_url": f"https://gitlab.example/club/tenants/-/merge_requests/{iid}",
    }


def gitlab_pipeline(
    pipeline_id: int, head: str, iid: int, status: str = "success"
) -> dict[str, Any]:
    return {
        "id": pipeline_id,
        "iid": pipeline_id - 100,
        "project_id": PROJECT,
        "sha": head,
        "ref": f"refs/merge-requests/{iid}/head",
        "status": status,
        "source": "merge_request_event",
        "created_at": "2026-12-07T09:00:00.000Z",
        "updated_at": "2026-12-07T09:05:00.000Z",
        "web_url": f"https://gitlab.example/club/tenants/-/pipelines/{pipeline_id}",
    }


def gitlab_job(
    job_id: int, name: str, pipeline_id: int, head: str, status: str = "success"
) -> dict[str, Any]:
    return {
        "id": job_id,
        "name": name,
        "stage": "check",
        "status": status,
        "ref": "refs/merge-requests/1/head",
        "commit": {"id": head, "short_id": head[:8], "title": "change"},
        "pipeline": {
            "id": pipeline_id,
            "project_id": PROJECT,
            "sha": head,
            "ref": "refs/merge-requests/1/head",
            "status": "success",
        },
        "artifacts": [{"file_type": "archive", "size": 1000, "filename": "artifacts.zip"}],
        "web_url": f"https://gitlab.example/club/tenants/-/jobs/{job_id}",
    }


def github_user(login: str, user_id: int, kind: str = "User") -> dict[str, Any]:
    return {
        "login": login,
        "id": user_id,
        "node_id": f"MDQ6VXNlcj{user_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "url": f"https://api.github.com/users/{login}",
        "html_url": f"https://github.com/{login}",
        "type": kind,
        "site_admin": False,
    }


def github_pull_request(
    number: int, head: str, author: str = "author", labels: tuple[str, ...] = ()
) -> dict[str, Any]:
    """GET /repos/{o}/{r}/pulls/{n}: an open pull request."""
    return {
        **github_pull(number, head, merged=False, labels=labels),
        "state": "open",
        "user": github_user(author, 100 + len(author)),
    }


def github_label_event(
    event_id: int, actor: str, label: str, created_at: str, event: str = "labeled"
) -> dict[str, Any]:
    return {
        "id": event_id,
        "node_id": f"LE_lADO{event_id}",
        "url": f"{API}/issues/events/{event_id}",
        "actor": github_user(actor, 300 + len(actor)),
        "event": event,
        "commit_id": None,
        "commit_url": None,
        "created_at": created_at,
        "label": {"name": label, "color": "ededed"},
        "performed_via_github_app": None,
    }


def github_comment(comment_id: int, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": comment_id,
        "node_id": f"IC_kwDO{comment_id}",
        "url": f"{API}/issues/comments/{comment_id}",
        "html_url": f"https://github.com/{OWNER}/{REPO}/pull/{number}#issuecomment-{comment_id}",
        "issue_url": f"{API}/issues/{number}",
        "body": body,
        "user": user,
        "created_at": "2026-12-07T11:00:00Z",
        "updated_at": "2026-12-07T11:00:00Z",
        "author_association": "NONE" if user.get("type") == "Bot" else "MEMBER",
    }


def gitlab_user(user_id: int, username: str) -> dict[str, Any]:
    return {
        "id": user_id,
        "username": username,
        "name": username.title(),
        "state": "active",
        "avatar_url": f"https://gitlab.example/uploads/-/avatar/{user_id}.png",
        "web_url": f"https://gitlab.example/{username}",
    }


def gitlab_label_event(
    event_id: int, user: dict[str, Any], label: str, created_at: str, action: str = "add"
) -> dict[str, Any]:
    return {
        "id": event_id,
        "user": user,
        "created_at": created_at,
        "resource_type": "MergeRequest",
        "resource_id": 9003,
        "label": {"id": 74, "name": label, "color": "#0033CC", "description": ""},
        "action": action,
    }


def gitlab_note(note_id: int, iid: int, body: str, author: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": note_id,
        "type": None,
        "body": body,
        "author": author,
        "created_at": "2026-12-07T11:00:00.000Z",
        "updated_at": "2026-12-07T11:00:00.000Z",
        "system": False,
        "noteable_id": 9000 + iid,
        "noteable_type": "MergeRequest",
        "noteable_iid": iid,
        "resolvable": False,
        "confidential": False,
        "internal": False,
    }


SCRIPTS = Path(__file__).resolve().parents[2] / "scripts" / "ci"


def run_script(
    forge: Forge, tmp_path: Path, script: str, *args: str, token: str = GITHUB_TOKEN
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """``scripts/ci/SCRIPT ARGS`` as the jobs run it (``python -I``, from a checkout that
    holds a trap ``json.py`` where the job stands and on ``PYTHONPATH``: the script must
    not import it) against ``forge``; what it did, and what it wrote to GITHUB_OUTPUT."""
    trap = tmp_path / "checkout"
    trap.mkdir(exist_ok=True)
    (trap / "json.py").write_text("raise SystemExit('imported json.py from the checkout')\n")
    output = tmp_path / "github_output"
    output.write_text("")
    done = subprocess.run(
        [sys.executable, "-I", str(SCRIPTS / script), *args],
        cwd=trap,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(trap),
            "GITHUB_API_URL": forge.url,
            "GITHUB_TOKEN": token,
            "GITHUB_OUTPUT": str(output),
            "CI_API_V4_URL": f"{forge.url}/api/v4",
            "T4O_GITLAB_READ_TOKEN": token,
            "T4O_GITLAB_REPORT_TOKEN": token,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in done.stderr, done.stderr
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines())
    return done, outputs
