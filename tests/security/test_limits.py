"""Class 7: limits. An oversized tenant file, a section with too many items, nesting the
schema does not allow and a broken YAML construct are clear errors at the right line, in
bounded time; the sandbox answers 413 to large bodies, enforces the schema's maximum
lengths, and scopes idempotency keys to the principal and the path."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import REPO, Server, base_env, cli

pytestmark = pytest.mark.e2e

HEAD = 'slug: club\nname: Club\norganization_number: "914820332"\n'


def _user(i: int) -> str:
    return f"  - {{email: u{i}@club.no, name: User {i}}}\n"


def _validate(tmp_path: Path, text: str) -> tuple[int, list[str], float]:
    folder = tmp_path / "tenants"
    folder.mkdir(exist_ok=True)
    (folder / "club.yaml").write_text(text)
    started = time.monotonic()
    done = cli("validate", folder, env=base_env())
    elapsed = time.monotonic() - started
    assert "Traceback" not in done.stderr
    problems = [
        line.split("club.yaml:", 1)[1] for line in done.stderr.splitlines() if "club.yaml:" in line
    ]
    return done.returncode, problems, elapsed


def test_an_oversized_tenant_file_is_refused_at_the_line_the_limit_is_reached(
    tmp_path: Path,
) -> None:
    users = "".join(_user(i) for i in range(40_000))  # about 1.7 MB
    code, problems, elapsed = _validate(tmp_path, HEAD + "users:\n" + users)

    assert code == 1
    assert len(problems) == 1
    line = int(problems[0].split(":")[0])
    assert 20_000 < line < 40_000  # where the 1 MiB limit falls, not 1:1
    assert "larger than 1024 KiB" in problems[0]
    assert elapsed < 20


def test_a_section_with_too_many_items_is_an_error_at_the_section(tmp_path: Path) -> None:
    owner = "  - {email: owner@club.no, name: Owner, role: owner}\n"
    users = owner + "".join(_user(i) for i in range(1_000))
    code, problems, _ = _validate(tmp_path, HEAD + "users:\n" + users)

    assert code == 1
    assert any(p.startswith("4:1: users:") and "at most 1000 items" in p for p in problems), (
        problems
    )


def test_nesting_deeper_than_the_schema_is_refused_where_it_goes_too_deep(tmp_path: Path) -> None:
    deep = "billing: " + "[" * 10_000 + "]" * 10_000 + "\n"
    code, problems, elapsed = _validate(tmp_path, HEAD + deep)

    assert code == 1
    # The document is level 1, billing's first [ level 2: the 20th [ opens level 21.
    assert problems and problems[0].startswith("4:29:"), problems
    assert "nested deeper than 20 levels" in problems[0]
    assert elapsed < 20


def test_an_unclosed_bracket_points_at_its_own_line(tmp_path: Path) -> None:
    code, problems, _ = _validate(tmp_path, HEAD + "billing: {licenses: 1\ninvoicing: {}\n")

    assert code == 1
    assert problems[0].startswith("4:10:"), problems
    assert "it began here; the parser noticed at line 5, column 1" in problems[0]


def test_the_sandbox_refuses_large_bodies_and_long_strings(server: Server) -> None:
    schema = json.loads((REPO / "schemas" / "tenant.schema.json").read_text())
    name_limit = schema["properties"]["name"]["maxLength"]
    tenant = {
        "slug": "club",
        "name": "x" * (name_limit + 1),
        "organization_number": "914820332",
        "owner": {"email": "owner@club.no", "name": "Owner"},
    }
    with server.client() as client:
        too_long = client.post("/v1/tenants", json=tenant, headers={"Idempotency-Key": "long"})
        tenant["name"] = "x" * name_limit
        at_limit = client.post("/v1/tenants", json=tenant, headers={"Idempotency-Key": "ok"})
        body = b'{"name": "' + b"x" * (2 << 20) + b'"}'
        huge = client.post(
            "/v1/agreements",
            content=body,
            headers={"Idempotency-Key": "huge", "Content-Type": "application/json"},
        )

        def chunks() -> object:
            for _ in range(40):
                yield b"x" * 65536

        streamed = client.post(
            "/v1/agreements",
            content=chunks(),  # type: ignore[arg-type]
            headers={"Idempotency-Key": "streamed", "Content-Type": "application/json"},
        )

    assert too_long.status_code == 422 and "name" in too_long.text
    assert at_limit.status_code == 201, at_limit.text
    assert huge.status_code == 413 and huge.json()["type"].endswith("/body-too-large")
    assert streamed.status_code == 413


def test_an_idempotency_key_replays_only_its_own_principals_answer(server: Server) -> None:
    made = cli(
        "sandbox", "token", "create", "--db", server.db, "--partner", "e2e-partner",
        "--tenant", "other-club", env=base_env(),
    )  # fmt: skip
    tenant_token = made.stdout.strip().splitlines()[-1]
    tenant = {
        "slug": "club",
        "name": "Club",
        "organization_number": "914820332",
        "owner": {"email": "owner@club.no", "name": "Owner"},
    }
    with server.client() as client:
        first = client.post("/v1/tenants", json=tenant, headers={"Idempotency-Key": "k-1"})
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {tenant_token}"}, timeout=30
    ) as other:
        replayed = other.post("/v1/tenants", json=tenant, headers={"Idempotency-Key": "k-1"})

    assert first.status_code == 201
    # A tenant token may not create tenants: it gets its own refusal, never the partner's
    # stored answer (which would show it a tenant it cannot see).
    assert replayed.status_code == 403, replayed.text
    assert "club" not in replayed.text or "tenant-token-forbidden" in replayed.text
