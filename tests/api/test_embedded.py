"""The embedded sandbox answers a plan's reads itself and hands everything else to the app.

Its direct answers must be the app's answers, byte for byte; anything it is not sure of
(a bad parameter, an unknown token, a write) goes to the FastAPI app, which then words it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from t4o_reconcile.api.embedded import EMBEDDED_BASE_URL, EmbeddedTransport
from t4o_reconcile.sandbox.app import create_app
from t4o_reconcile.sandbox.store import Store
from tests.api.aio import run
from tests.e2e.conftest import EXAMPLES, example_secrets

# Slug and a valid organisation number of each.
TENANTS = {"club-a": "910000012", "club-b": "910000020", "club-c": "910000039"}


@pytest.fixture
def db(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "sandbox.db"
    store = Store(path)
    token = store.create_token(partner="p")
    store.close()
    app = httpx.ASGITransport(app=create_app(path))

    async def fill() -> None:
        async with httpx.AsyncClient(transport=app, base_url=EMBEDDED_BASE_URL) as client:
            headers = {"Authorization": f"Bearer {token}"}
            made = await client.post(
                "/v1/agreements",
                json={"name": "Region A", "customer_number": "1001"},
                headers={**headers, "Idempotency-Key": "agreement"},
            )
            assert made.status_code == 201, made.text
            for slug, number in TENANTS.items():
                made = await client.post(
                    "/v1/tenants",
                    json={
                        "slug": slug,
                        "name": slug.title(),
                        "organization_number": number,
                        "owner": {"email": f"owner@{slug}.no", "name": "Owner"},
                        "agreement": "Region A",
                    },
                    headers={**headers, "Idempotency-Key": slug},
                )
                assert made.status_code == 201, made.text

    run(fill())
    return path, token


def _ask(
    transport: httpx.AsyncBaseTransport, requests: list[tuple[str, str, str]]
) -> list[tuple[int, str, bytes]]:
    async def go() -> list[tuple[int, str, bytes]]:
        answers = []
        async with httpx.AsyncClient(transport=transport, base_url=EMBEDDED_BASE_URL) as client:
            for method, url, token in requests:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                answer = await client.request(method, url, headers=headers)
                answers.append(
                    (answer.status_code, answer.headers.get("content-type", ""), answer.content)
                )
        return answers

    return run(go())


def test_the_reads_of_a_plan_are_answered_without_the_app_and_as_the_app_does(
    db: tuple[Path, str],
) -> None:
    path, token = db
    first_page = json.loads(
        _ask(httpx.ASGITransport(app=create_app(path)), [("GET", "/v1/tenants?limit=1", token)])[0][
            2
        ]
    )
    requests = [
        ("GET", "/v1/whoami", token),
        ("GET", "/v1/vocabulary", token),
        ("GET", "/v1/tenants", token),
        ("GET", "/v1/tenants?limit=1", token),
        ("GET", f"/v1/tenants?limit=1&cursor={first_page['next_cursor']}", token),
        ("GET", "/v1/agreements?limit=100", token),
        ("GET", "/v1/bulk/tenants?slugs=club-c,club-a", token),
        ("GET", "/v1/bulk/tenants?limit=2", token),
        ("GET", "/v1/tenants/club-a/audit-log", token),
        ("GET", "/v1/tenants/club-a/audit-log?order=desc&limit=1", token),
        ("GET", "/v1/tenants/club-b/audit-log?order=asc&limit=100", token),
    ]
    embedded = EmbeddedTransport(Store(path))

    direct = _ask(embedded, requests)

    assert not embedded.app_built
    assert direct == _ask(httpx.ASGITransport(app=create_app(path)), requests)
    assert [status for status, _, _ in direct] == [200] * len(requests)
    bulk = json.loads(direct[6][2])
    assert [item["slug"] for item in bulk["items"]] == ["club-a", "club-c"]
    newest = json.loads(direct[9][2])
    assert len(newest["items"]) == 1 and newest["next_cursor"] is not None


@pytest.mark.parametrize(
    ("url", "token"),
    [
        ("/v1/tenants?limit=0", "token"),
        ("/v1/tenants?limit=101", "token"),
        ("/v1/tenants?limit=007", "token"),
        ("/v1/tenants?limit=two", "token"),
        ("/v1/tenants?limit=1&limit=2", "token"),
        ("/v1/tenants?cursor=not-a-cursor", "token"),
        ("/v1/tenants?cursor=%2F..%2F", "token"),
        ("/v1/tenants?sort=name", "token"),
        ("/v1/bulk/tenants?slugs=club-a%00", "token"),
        ("/v1/whoami", ""),
        ("/v1/whoami", "t4o_000000000000_not-a-token"),
        ("/v1/%77hoami", "token"),
        ("/v1/tenants/club-a", "token"),
        ("/v1/tenants/club-a/audit-log?order=sideways", "token"),
        ("/v1/tenants/club-a/audit-log?since=2020-01-01", "token"),
        ("/v1/tenants/no-such-club/audit-log", "token"),
        ("/v1/tenants/Club-A/audit-log", "token"),
        ("/v1/tenants/club-a/audit-log/", "token"),
    ],
)
def test_anything_else_is_left_to_the_app_which_answers_it(
    db: tuple[Path, str], url: str, token: str
) -> None:
    path, real = db
    token = real if token == "token" else token
    embedded = EmbeddedTransport(Store(path))

    answer = _ask(embedded, [("GET", url, token)])

    assert embedded.app_built
    assert answer == _ask(httpx.ASGITransport(app=create_app(path)), [("GET", url, token)])


def test_a_write_goes_to_the_app_over_the_same_database(db: tuple[Path, str]) -> None:
    path, token = db
    embedded = EmbeddedTransport(Store(path))

    async def go() -> tuple[int, int]:
        async with httpx.AsyncClient(transport=embedded, base_url=EMBEDDED_BASE_URL) as client:
            headers = {"Authorization": f"Bearer {token}"}
            deleted = await client.delete(
                "/v1/tenants/club-b", headers={**headers, "If-Match": '"1"'}
            )
            listed = await client.get("/v1/tenants", headers=headers)
            return deleted.status_code, len(listed.json()["items"])

    assert run(go()) == (204, 2)
    embedded.close()


def _cli_in_process(tmp_path: Path, *args: str) -> str:
    """What one CLI run in a fresh interpreter printed to stderr, ending with whether it
    imported FastAPI and Starlette."""
    script = (
        "import sys\n"
        "from t4o_reconcile.cli import main\n"
        "try:\n"
        f"    main({list(args)!r})\n"
        "except SystemExit as exit:\n"
        "    print('exit', exit.code, file=sys.stderr)\n"
        "print('fastapi' in sys.modules, 'starlette' in sys.modules, file=sys.stderr)\n"
    )
    env = {"PATH": "/usr/bin:/bin", "T4O_SANDBOX_DB": str(tmp_path / "sandbox.db")}
    env.update(example_secrets())
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    return done.stderr


def test_a_plan_on_the_embedded_sandbox_does_not_import_fastapi(tmp_path: Path) -> None:
    shown = _cli_in_process(tmp_path, "plan", str(EXAMPLES), "--tenant", "ok-skogen")

    assert "exit 0" in shown, shown
    assert shown.strip().endswith("False False"), shown


def test_nor_does_a_plan_of_changes_that_reads_who_made_them(tmp_path: Path) -> None:
    """A plan that changes a live tenant reads its audit log (who changed it last); that
    read is answered without the app too."""
    tenants = tmp_path / "tenants"
    shutil.copytree(EXAMPLES, tenants)
    applied = _cli_in_process(
        tmp_path, "apply", str(tenants), "--tenant", "ok-skogen", "--auto-approve"
    )
    assert "exit 0" in applied, applied
    tenant = tenants / "ok-skogen.yaml"
    text = tenant.read_text()
    changed = text.replace('phone: "+47 22 33 44 55"', 'phone: "+47 99 00 11 22"', 1)
    assert changed != text
    tenant.write_text(changed)

    shown = _cli_in_process(
        tmp_path, "plan", str(tenants), "--tenant", "ok-skogen", "--detailed-exitcode"
    )

    assert "exit 2" in shown, shown
    assert shown.strip().endswith("False False"), shown
