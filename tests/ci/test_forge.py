"""t4o_reconcile/forge, in-process against the forge stand-in: the REST client the CI
scripts share (paging, writes, every failure one Refused line, no redirect followed) and
the sticky plan comment (created, updated in part order, extra parts deleted, others'
comments left alone). The scripts that use them are run as the jobs run them in
test_pull_request_scripts.py and test_reviewed_plan.py."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from t4o_reconcile.forge import comments, rest
from t4o_reconcile.forge.rest import GitHub, GitLab, Refused
from tests.ci.forge_standin import (
    GITHUB_TOKEN,
    GITLAB_TOKEN,
    OWNER,
    PROJECT,
    REPO,
    Forge,
    github_comment,
    github_pull,
    github_user,
    gitlab_merge_request,
    gitlab_note,
    gitlab_user,
)

MARKER = comments.PLAN_MARKER


def _github(forge: Forge, token: str = GITHUB_TOKEN) -> GitHub:
    return GitHub(forge.url, f"{OWNER}/{REPO}", token)


def _gitlab(forge: Forge) -> GitLab:
    return GitLab(f"{forge.url}/api/v4", str(PROJECT), GITLAB_TOKEN)


def test_a_list_is_read_page_by_page(forge: Forge) -> None:
    forge.pull_requests[3] = github_pull(3, "a" * 40, merged=False)
    forge.comments[3] = [
        github_comment(100 + n, 3, f"comment {n}", github_user("bo", 300)) for n in range(250)
    ]

    listed = _github(forge).pages("/issues/3/comments")

    assert [c["body"] for c in listed] == [f"comment {n}" for n in range(250)]
    assert sum("/issues/3/comments" in r for r in forge.requests) == 3  # 100, 100, 50


def test_every_failure_is_one_refused_line(forge: Forge) -> None:
    with pytest.raises(Refused, match=r"^GET /pulls/9 answered HTTP 401$"):
        _github(forge, token="ghs_wrong").get("/pulls/9")
    with pytest.raises(Refused, match=r"^GET /pulls/9 answered HTTP 404$"):
        _github(forge).get("/pulls/9")
    with pytest.raises(Refused, match=r"^POST /issues/9/comments answered HTTP 404$"):
        _github(forge).send("POST", "/issues/9/comments", {"body": "x"})
    with pytest.raises(Refused, match=r"^GET /pulls/9 failed: "):
        GitHub("http://127.0.0.1:9", f"{OWNER}/{REPO}", GITHUB_TOKEN).get("/pulls/9")
    with pytest.raises(Refused, match=r"the answer has no int 'number'"):
        rest.field({"number": True}, "number", int, "the answer")


def test_an_answer_that_is_not_json_is_refused() -> None:
    with _server(200, b"<html>a login page</html>") as url:
        with pytest.raises(Refused, match=r"^GET /x answered something that is not JSON$"):
            rest.Api(url, {}).get("/x")
        with pytest.raises(Refused, match=r"^PATCH /x answered something that is not JSON$"):
            rest.Api(url, {}).send("PATCH", "/x", {"a": 1})


def test_a_redirect_is_never_followed() -> None:
    """urllib would send the token on to wherever it points."""
    with (
        _server(302, b"", location="https://elsewhere.example/steal") as url,
        pytest.raises(Refused, match=r"^GET /x answered HTTP 302$"),
    ):
        rest.Api(url, {"Authorization": "Bearer secret"}).get("/x")


def test_names_become_path_segments_that_cannot_climb() -> None:
    assert rest.quoted_path("t4o/plan.json") == "t4o/plan.json"
    assert rest.quoted_path("a b/../c?d") == "a%20b/../c%3Fd"
    assert (
        rest.workflow_path(
            {"path": f"{OWNER}/{REPO}/.github/workflows/t4o-plan.yml@refs/heads/main"},
            f"{OWNER}/{REPO}",
        )
        == ".github/workflows/t4o-plan.yml"
    )
    assert rest.REPO.fullmatch("club-admin/tenants")
    assert not rest.REPO.fullmatch("club-admin/..")


def test_the_comment_is_created_updated_and_trimmed_in_part_order(forge: Forge) -> None:
    forge.pull_requests[3] = github_pull(3, "a" * 40, merged=False)
    github = _github(forge)
    someone = github_user("bo", 300)
    forge.comments[3] = [github_comment(1, 3, f"{MARKER}1 --> by a person", someone)]

    said = comments.github_sync(
        github, 3, [f"{MARKER}1 -->a", f"{MARKER}2 -->b"], MARKER, comments.GITHUB_BOT
    )
    assert said == "pull request #3: 2 part(s): 2 created, 0 updated, 0 deleted"

    said = comments.github_sync(github, 3, [f"{MARKER}1 -->A"], MARKER, comments.GITHUB_BOT)
    assert said == "pull request #3: 1 part(s): 0 created, 1 updated, 1 deleted"
    bodies = [c["body"] for c in forge.comments[3]]
    assert bodies == [f"{MARKER}1 --> by a person", f"{MARKER}1 -->A"]  # a person's stays

    again = comments.github_sync(github, 3, [f"{MARKER}1 -->A"], MARKER, comments.GITHUB_BOT)
    assert again == "pull request #3: 1 part(s): 0 created, 0 updated, 0 deleted"


def test_the_merge_request_note_is_kept_the_same_way(forge: Forge) -> None:
    forge.merge_request_by_iid[7] = gitlab_merge_request(7, "a" * 40, state="opened")
    forge.notes[7] = [gitlab_note(1, 7, f"{MARKER}1 --> by a person", gitlab_user(5, "bo"))]
    gitlab = _gitlab(forge)
    bot = comments.gitlab_bot_id(f"{forge.url}/api/v4", GITLAB_TOKEN)

    made = comments.gitlab_sync(gitlab, 7, [f"{MARKER}1 -->a", f"{MARKER}2 -->b"], MARKER, bot)
    trimmed = comments.gitlab_sync(gitlab, 7, [f"{MARKER}1 -->A"], MARKER, bot)

    assert made == "merge request !7: 2 part(s): 2 created, 0 updated, 0 deleted"
    assert trimmed == "merge request !7: 1 part(s): 0 created, 1 updated, 1 deleted"
    assert [n["body"] for n in forge.notes[7]] == [f"{MARKER}1 --> by a person", f"{MARKER}1 -->A"]


def test_the_parts_are_read_in_order_and_bounded(tmp_path: Path) -> None:
    (tmp_path / "part-002.md").write_text(f"{MARKER}2 -->b")
    (tmp_path / "part-001.md").write_text(f"{MARKER}1 -->a")
    (tmp_path / "notes.txt").write_text("not a part")
    assert comments.read_parts(tmp_path) == [f"{MARKER}1 -->a", f"{MARKER}2 -->b"]

    (tmp_path / "part-003.md").write_text("x" * (comments.MAX_BODY + 1))
    with pytest.raises(Refused, match=r"part-003\.md is 65537 characters, over 65536"):
        comments.read_parts(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(Refused, match=r"holds no comment part"):
        comments.read_parts(empty)


@contextmanager
def _server(status: int, body: bytes, location: str | None = None) -> Iterator[str]:
    """A server that answers every request with ``status`` and ``body``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _any(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            if location is not None:
                self.send_header("Location", location)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PATCH = _any

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
