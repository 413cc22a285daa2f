"""The week's GitHub: forge_standin.Forge extended with the REST endpoints a week's CI
scripts call, in GitHub's shapes, and a server that answers every method."""

from __future__ import annotations

import itertools
import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.ci.forge_standin import (
    GITHUB_TOKEN,
    OWNER,
    REPO,
    Forge,
    page,
)

# --- The forge: GitHub's REST API as the kit's scripts call it ----------------------------


def timestamp() -> str:
    """The one time every stand-in object carries (the scenario never compares times)."""
    return "2026-12-07T10:00:00Z"


@dataclass
class WeekForge(Forge):
    """forge_standin.Forge (runs, artifacts, commit → pulls) plus what a week needs, in
    GitHub's REST shapes: pull requests, their labels and labelled events with actors,
    collaborators' permissions, issue comments (list, create, update, delete) and commit
    statuses. Every request is recorded as ``METHOD path``."""

    pull_requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    events: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    permissions: dict[str, str] = field(default_factory=dict)  # login → permission
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    artifact_files: dict[int, Path] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(5000))

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Any, body: Any
    ) -> tuple[int, Any]:
        self.calls.append(f"{method} {path}")
        prefix = f"/repos/{OWNER}/{REPO}"
        if not path.startswith(prefix + "/"):
            return self.answer(path, query, headers)
        if headers.get("Authorization") not in (f"Bearer {GITHUB_TOKEN}", f"token {GITHUB_TOKEN}"):
            return 401, {"message": "Bad credentials", "status": "401"}
        parts = path.removeprefix(prefix).strip("/").split("/")
        found = self._read(parts, query) if method == "GET" else self._write(method, parts, body)
        if found is not None:
            return found
        if method == "GET":
            return self.answer(path, query, headers)
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}

    def _read(self, parts: list[str], query: dict[str, str]) -> tuple[int, Any] | None:
        match parts:
            case ["pulls", number] | ["issues", number] if number.isdigit():
                # An issue read of a pull request answers the pull request's issue fields
                # (labels, user, state), which this object holds too.
                pull = self.pull_requests.get(int(number))
                return (200, pull) if pull else (404, {"message": "Not Found"})
            case ["pulls", number, "reviews"]:
                return 200, page(self.reviews.get(int(number), []), query)
            case ["pulls"]:
                state = query.get("state", "open")
                pulls = [
                    p for p in self.pull_requests.values() if state == "all" or p["state"] == state
                ]
                return 200, page(pulls, query)
            case ["issues", number, "labels"]:
                return 200, page(self.pull_requests[int(number)]["labels"], query)
            case ["issues", number, "events"] | ["issues", number, "timeline"]:
                return 200, page(self.events.get(int(number), []), query)
            case ["collaborators", login, "permission"]:
                permission = self.permissions.get(login, "none")
                return 200, {
                    "permission": permission,
                    "role_name": permission,
                    "user": {"login": login, "type": "User"},
                }
            case ["issues", number, "comments"]:
                return 200, page(self.comments.get(int(number), []), query)
            case ["commits", sha, "statuses"]:
                return 200, page(self.statuses.get(sha, []), query)
        return None

    def _write(self, method: str, parts: list[str], body: Any) -> tuple[int, Any] | None:
        match method, parts:
            case "POST", ["issues", number, "comments"]:
                comment = self._comment(int(number), body["body"])
                self.comments.setdefault(int(number), []).append(comment)
                return 201, comment
            case "PATCH", ["issues", "comments", comment_id]:
                for comment in self._all_comments():
                    if comment["id"] == int(comment_id):
                        comment["body"] = body["body"]
                        comment["updated_at"] = timestamp()
                        return 200, comment
                return 404, {"message": "Not Found"}
            case "DELETE", ["issues", "comments", comment_id]:
                for thread in self.comments.values():
                    for comment in list(thread):
                        if comment["id"] == int(comment_id):
                            thread.remove(comment)
                            return 204, b""
                return 404, {"message": "Not Found"}
            case "POST", ["statuses", sha]:
                status = {
                    "id": next(self.ids),
                    "state": body["state"],
                    "description": body.get("description"),
                    "target_url": body.get("target_url"),
                    "context": body.get("context", "default"),
                    "created_at": timestamp(),
                    "creator": {"login": "github-actions[bot]", "type": "Bot"},
                }
                self.statuses.setdefault(sha, []).insert(0, status)
                return 201, status
        return None

    def _comment(self, number: int, body: str) -> dict[str, Any]:
        comment_id = next(self.ids)
        return {
            "id": comment_id,
            "node_id": f"IC_{comment_id}",
            "url": f"https://api.github.com/repos/{OWNER}/{REPO}/issues/comments/{comment_id}",
            "issue_url": f"https://api.github.com/repos/{OWNER}/{REPO}/issues/{number}",
            "body": body,
            "user": {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"},
            "created_at": timestamp(),
            "updated_at": timestamp(),
            "author_association": "NONE",
        }

    def _all_comments(self) -> Iterator[dict[str, Any]]:
        for thread in self.comments.values():
            yield from thread

    def status_of(self, sha: str) -> list[dict[str, Any]]:
        return self.statuses.get(sha, [])


@contextmanager
def serve_forge(forge: WeekForge) -> Iterator[WeekForge]:
    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            forge.requests.append(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            query = dict(urllib.parse.parse_qsl(url.query))
            status, answer = forge.handle(self.command, url.path, query, self.headers, body)
            data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
            self.send_response(status)
            kind = "application/octet-stream" if isinstance(answer, bytes) else "application/json"
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any

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
