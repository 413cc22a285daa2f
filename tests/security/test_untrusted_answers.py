"""Classes 5 and 6: answers from the API are untrusted.

A hostile server, started as a process, answers with HTML, truncated JSON, JSON of the
wrong shape, 100 MB, or nothing at all: each run ends in one clear error line (method,
path, what was wrong) within a bounded time, never a traceback. And export writes only
inside --out: a slug, name or key from the API is checked like the configuration before it
becomes a file name or YAML; a hostile answer writes nothing.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import EXAMPLES, Server, base_env, cli
from tests.e2e.helpers import items
from tests.security.canary import assert_no_canary, outputs, planted
from tests.security.hostile import hostile_server

pytestmark = pytest.mark.e2e

TOKEN = "t4o_canary_TOKEN-never-shown-q7x"


@pytest.mark.parametrize(
    ("mode", "said", "seconds"),
    [
        ("html", "expected JSON, got text/html", 20),
        ("truncated", "the answer is not valid JSON", 20),
        ("shape", "does not have the documented shape", 20),
        ("huge", "the answer is over 32 MiB; reading stopped", 30),
        ("hang", "gave up after 5 attempt(s)", 30),
    ],
)
def test_a_hostile_answer_ends_in_one_clear_error_line(
    mode: str, said: str, seconds: float
) -> None:
    secrets = planted()
    with hostile_server(mode) as url:
        env = {**base_env(), **secrets, "T4O_API_URL": url, "T4O_API_TOKEN": TOKEN}
        started = time.monotonic()
        done = cli("plan", EXAMPLES, "--timeout", "1" if mode == "hang" else "5", env=env)
        elapsed = time.monotonic() - started

    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert len(errors) == 1, done.stderr
    assert "GET /v1/" in errors[0] and said in errors[0], errors[0]
    assert elapsed < seconds
    assert_no_canary(outputs([done]), [TOKEN, *secrets.values()])


def _real_answers(server: Server, examples: Path) -> dict[str, Any]:
    assert cli("apply", examples, "--auto-approve", env=server.env(**planted())).returncode == 0
    with server.client() as client:
        tenants = items(client, "/v1/tenants")
        slugs = ",".join(t["slug"] for t in tenants)
        bulk = client.get("/v1/bulk/tenants", params={"slugs": slugs, "limit": 100}).json()
        return {
            "/v1/tenants": {"items": tenants, "next_cursor": None},
            "/v1/bulk/tenants": bulk,
            "/v1/agreements": {"items": items(client, "/v1/agreements"), "next_cursor": None},
            "/v1/vocabulary": client.get("/v1/vocabulary").json(),
        }


def _hostile_slug(answers: dict[str, Any]) -> None:
    for listing in (answers["/v1/tenants"]["items"], answers["/v1/bulk/tenants"]["items"]):
        for tenant in listing:
            if tenant["slug"] == "ok-skogen":
                tenant["slug"] = "../../escaped"


def _hostile_email(answers: dict[str, Any]) -> None:
    for config in answers["/v1/bulk/tenants"]["items"]:
        for user in config.get("users") or []:
            user["email"] = "a/../../b@evil.no"


def _hostile_agreement(answers: dict[str, Any]) -> None:
    answers["/v1/agreements"]["items"][0]["name"] = "x/../../y"


@pytest.mark.parametrize(
    ("make_hostile", "named"),
    [
        (_hostile_slug, "'../../escaped'"),
        (_hostile_email, "email"),
        (_hostile_agreement, "'x/../../y'"),
    ],
)
def test_export_writes_nothing_for_a_hostile_answer(
    make_hostile: Any,
    named: str,
    server: Server,
    examples_copy: Path,
    tmp_path: Path,
) -> None:
    answers = _real_answers(server, examples_copy)
    make_hostile(answers)
    spec = tmp_path / "answers.json"
    spec.write_text(json.dumps(answers))
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    before = sorted(p for p in tmp_path.rglob("*"))

    with hostile_server("answers", spec) as url:
        env = {**base_env(), "T4O_API_URL": url, "T4O_API_TOKEN": TOKEN}
        done = cli("export", "--all", "--out", work / "out", env=env, cwd=work)

    assert done.returncode == 1, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and named in errors[0], done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p for p in tmp_path.rglob("*")) == before  # not one file written
    assert_no_canary(outputs([done]), [TOKEN])


@pytest.mark.parametrize(
    ("make_hostile", "said"),
    [
        (
            lambda lists: lists["merge_fields"].append("Number}{../../x"),
            "merge_fields: 'Number}{../../x' is not a name of the expected shape",
        ),
        (
            lambda lists: lists["languages"].extend(f"l{i:03d}"[:3] for i in range(1001)),
            "languages: 1010 names, over the limit of 1000",
        ),
        (lambda lists: lists.update(pdf_templates="standard"), "pdf_templates: expected a list"),
    ],
    ids=["bad-name", "too-many", "not-a-list"],
)
def test_a_hostile_vocabulary_is_refused_whole(
    make_hostile: Any, said: str, server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    answers = _real_answers(server, examples_copy)
    make_hostile(answers["/v1/vocabulary"])
    spec = tmp_path / "answers.json"
    spec.write_text(json.dumps(answers))

    with hostile_server("answers", spec) as url:
        env = {**base_env(), **planted(), "T4O_API_URL": url, "T4O_API_TOKEN": TOKEN}
        done = cli("plan", examples_copy, env=env)

    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == 1, done.stdout + done.stderr
    assert len(errors) == 1 and "GET /v1/vocabulary" in errors[0] and said in errors[0], errors
    assert "Traceback" not in done.stderr
