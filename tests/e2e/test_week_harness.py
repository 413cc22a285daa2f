"""The week's harness itself: the forge stand-in answers the calls a CI script makes with
GitHub's shapes and status codes, and a step's output files are read as the runner reads
them. (The scenario is tests/e2e/test_week.py.)"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.ci.forge_standin import GITHUB_TOKEN, OWNER, REPO, github_pull, serve
from tests.e2e.actions_runner import _key_values, _path_matches
from tests.e2e.week_forge import WeekForge


@pytest.fixture
def forge() -> Iterator[WeekForge]:
    with serve(WeekForge(permissions={"bo": "write"})) as running:
        running.pull_requests[3] = github_pull(3, "a" * 40, merged=False)
        yield running


def call(
    forge: WeekForge, method: str, path: str, body: Any = None, token: str = GITHUB_TOKEN
) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{forge.url}/repos/{OWNER}/{REPO}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            raw = answer.read()
            return answer.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_comments_are_created_listed_updated_and_deleted(forge: WeekForge) -> None:
    status, made = call(forge, "POST", "/issues/3/comments", {"body": "first"})
    assert status == 201 and made["user"]["type"] == "Bot"
    status, edited = call(forge, "PATCH", f"/issues/comments/{made['id']}", {"body": "second"})
    assert status == 200 and edited["body"] == "second"
    assert [c["body"] for c in call(forge, "GET", "/issues/3/comments?per_page=100")[1]] == [
        "second"
    ]
    assert call(forge, "DELETE", f"/issues/comments/{made['id']}")[0] == 204
    assert call(forge, "GET", "/issues/3/comments")[1] == []
    assert call(forge, "DELETE", f"/issues/comments/{made['id']}")[0] == 404


def test_statuses_permissions_and_the_pull_request(forge: WeekForge) -> None:
    sha = "b" * 40
    posted = {"state": "failure", "context": "t4o-reconcile/apply", "description": "1 failed"}
    assert call(forge, "POST", f"/statuses/{sha}", posted)[0] == 201
    listed = call(forge, "GET", f"/commits/{sha}/statuses")[1]
    assert [(s["state"], s["context"]) for s in listed] == [("failure", "t4o-reconcile/apply")]
    assert call(forge, "GET", "/collaborators/bo/permission")[1]["permission"] == "write"
    assert call(forge, "GET", "/collaborators/someone/permission")[0] == 404  # a stranger
    assert call(forge, "GET", "/pulls/3")[1]["head"]["sha"] == "a" * 40
    assert call(forge, "GET", "/pulls/4")[0] == 404


def test_a_wrong_token_is_refused_as_github_refuses_it(forge: WeekForge) -> None:
    assert call(forge, "GET", "/pulls/3", token="ghs_wrong")[0] == 401
    assert call(forge, "POST", "/issues/3/comments", {"body": "x"}, token="")[0] == 401
    assert forge.comments == {}


def test_output_files_are_read_as_the_runner_reads_them() -> None:
    text = "planned=true\nbody<<EOF\nline 1\nline=2\nEOF\nstatus=3\n"
    assert _key_values(text) == {"planned": "true", "body": "line 1\nline=2", "status": "3"}


@pytest.mark.parametrize(
    ("path", "pattern", "matches"),
    [
        ("tenants/klubb-001.yaml", "tenants/**", True),
        ("tenants/sub/x.yaml", "tenants/**", True),
        ("docs/tenants.md", "tenants/**", False),
        ("tenants/x.yaml", "tenants/*.yml", False),
    ],
)
def test_paths_filters(path: str, pattern: str, matches: bool) -> None:
    assert _path_matches(path, pattern) is matches
