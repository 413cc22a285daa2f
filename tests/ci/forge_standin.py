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

Without the expected token both answer 401 as the real ones do. Every request is recorded."""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

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
        return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}

    def gitlab(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[:2] == ["repository", "commits"] and parts[3:] == ["merge_requests"]:
            return 200, page(self.merge_requests.get(parts[2], []), query)
        if parts[0] == "merge_requests" and parts[2:] == ["pipelines"]:
            return 200, page(self.pipelines.get(int(parts[1]), []), query)
        if parts[0] == "pipelines" and parts[2:] == ["jobs"]:
            return 200, page(self.jobs.get(int(parts[1]), []), query)
        if parts[0] == "jobs" and parts[2] == "artifacts":
            key = (int(parts[1]), urllib.parse.unquote("/".join(parts[3:])))
            if key in self.files:
                return 200, self.files[key]
        return 404, {"message": "404 Not Found"}


def page(items: list[Any], query: dict[str, str]) -> list[Any]:
    size = int(query.get("per_page", "30"))
    number = int(query.get("page", "1"))
    return items[(number - 1) * size : number * size]


@contextmanager
def serve(forge: Forge) -> Iterator[Forge]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            forge.requests.append(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            status, body = forge.answer(url.path, query, self.headers)
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            kind = "application/octet-stream" if isinstance(body, bytes) else "application/json"
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

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
        "created_at": "2026-12-07T09:00:00Z",
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
    iid: int, head: str, state: str = "merged", labels: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "labels": list(labels),
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
