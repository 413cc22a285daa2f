"""Class 6: a fingerprint must not be an offline oracle.

Before, every token (the pull-request job's read-only one too) read ``{salt, hash,
last_digits}`` of a personal number and of every secret, hash = HMAC(salt, value): trying
each valid birth date recovered a whole fødselsnummer in minutes, and short passwords the
same. Now the API keys its fingerprints with a key that never leaves it and answers
``{"stored": true}``; only a writing token may ask it whether a value is the stored one,
a few times a minute per tenant, and each question is audited."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():
    # Starlette's test client warns about httpx on import (as in tests/sandbox).
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from t4o_reconcile.fingerprint import fingerprint
from t4o_reconcile.sandbox.app import create_app
from t4o_reconcile.sandbox.store import Store
from tests.e2e.conftest import Server, cli, example_secrets
from tests.e2e.helpers import edit_tenant
from tests.sandbox.helpers import PERSONAL_NUMBER, Api, tenant_body
from tests.security.canary import assert_no_canary, canaries_of, outputs, planted

PASSWORD = "hunter2"
# The budget docs/api.md promises: calls finding a difference a minute per token and tenant.
COMPARE_BUDGET = 10
# What no read-only answer may hold: a fingerprint, its salt or hash, a personal number's
# digits (whole, or the last two the writing token is shown).
_LEAKS = re.compile(r'"(fingerprint|salt|hash|last_digits)"|sensitive …[0-9]')


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[tuple[Store, TestClient]]:
    store = Store(tmp_path / "sandbox.db")
    with TestClient(create_app(store.path, store=store)) as client:
        yield store, client
    store.close()


def _api(store: Store, client: TestClient, *, read_only: bool = False) -> Api:
    return Api(client, store.create_token("p", read_only=read_only, name="job"))


def _association(writer: Api) -> None:
    body = tenant_body("il-fjell", organization_number=None, personal_number=PERSONAL_NUMBER)
    assert writer.create("/v1/tenants", body).status_code == 201
    account = {
        "account_name": "Faktura",
        "display_name": "IL Fjell",
        "address": "faktura@il-fjell.no",
        "username": "faktura",
        "password": PASSWORD,
        "smtp_host": "smtp.il-fjell.no",
    }
    assert writer.create("/v1/tenants/il-fjell/email-account", account).status_code == 201
    connection = {"connector": "eventor-norway", "token": "tok-123"}
    assert writer.create("/v1/tenants/il-fjell/connections", connection).status_code == 201


def _association_written(sandbox: tuple[Store, TestClient]) -> Api:
    """A writing token's client, once it has made the association and its secrets."""
    writer = _api(*sandbox)
    _association(writer)
    return writer


READS = (
    "/v1/tenants",
    "/v1/tenants/il-fjell",
    "/v1/tenants/il-fjell/config",
    "/v1/bulk/tenants",
    "/v1/tenants/il-fjell/email-account",
    "/v1/tenants/il-fjell/connections",
    "/v1/tenants/il-fjell/connections/eventor-norway",
    "/v1/tenants/il-fjell/audit-log",
)


def test_a_read_only_token_sees_no_fingerprint_salt_hash_nor_digit(
    sandbox: tuple[Store, TestClient],
) -> None:
    writer = _association_written(sandbox)
    reader = _api(*sandbox, read_only=True)

    for path in READS:
        answer = reader.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert _LEAKS.search(answer.text) is None, (path, answer.text)
        assert PERSONAL_NUMBER not in answer.text and PERSONAL_NUMBER[-2:] + '"' not in answer.text
    tenant = reader.get("/v1/tenants/il-fjell").json()
    assert tenant["personal_number"] == {"stored": True}
    assert reader.get("/v1/tenants/il-fjell/email-account").json()["password"] == {"stored": True}
    assert reader.get("/v1/whoami").json()["read_only"] is True
    # A writing token recognises the number by its last two digits, and nothing more.
    shown = writer.get("/v1/tenants/il-fjell").json()["personal_number"]
    assert shown == {"stored": True, "last_digits": PERSONAL_NUMBER[-2:]}
    for path in READS:
        assert re.search(r'"(fingerprint|salt|hash)"', writer.get(path).text) is None, path


def test_the_stored_fingerprint_cannot_be_recomputed_without_the_apis_key(
    sandbox: tuple[Store, TestClient],
) -> None:
    """Even a copy of the rows (not the key) is no oracle: the old rule no longer holds."""
    store, client = sandbox
    _association(_api(store, client))
    with sqlite3.connect(store.path) as db:
        (data,) = db.execute(
            "SELECT data FROM resources WHERE section = 'email_account'"
        ).fetchone()
    stored = json.loads(data)["password"]["fingerprint"]
    assert stored["key"] == "pepper-1"
    assert fingerprint(PASSWORD, stored["salt"]) != stored["hash"]


def test_compare_answers_same_or_different_only_to_a_writing_token(
    sandbox: tuple[Store, TestClient],
) -> None:
    writer = _association_written(sandbox)
    reader = _api(*sandbox, read_only=True)

    answer = writer.compare(
        "il-fjell",
        ("tenant", "", "personal_number", PERSONAL_NUMBER),
        ("email_account", "", "password", "wrong guess"),
        ("connections", "eventor-norway", "token", "tok-123"),
    )
    refused = reader.compare("il-fjell", ("email_account", "", "password", PASSWORD))

    assert answer.status_code == 200, answer.text
    assert [f["same"] for f in answer.json()["fields"]] == [True, False, True]
    assert set(answer.json()["fields"][0]) == {"resource", "key", "field", "same"}
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/read-only-token")
    assert PASSWORD not in refused.text
    bad = writer.compare("il-fjell", ("email_account", "", "username", "faktura"))
    assert bad.status_code == 422


def test_compare_is_rate_limited_per_token_and_tenant(sandbox: tuple[Store, TestClient]) -> None:
    writer = _association_written(sandbox)
    other = _api(*sandbox)
    guess = ("tenant", "", "personal_number", "01010112345")

    answers = [writer.compare("il-fjell", guess) for _ in range(COMPARE_BUDGET + 1)]

    assert [a.status_code for a in answers] == [200] * COMPARE_BUDGET + [429]
    over = answers[-1]
    assert over.json()["type"].endswith("/rate-limited")
    assert 1 <= int(over.headers["Retry-After"]) <= 60
    # Once spent, a right guess is refused too: a refusal tells nothing about a value.
    right = ("tenant", "", "personal_number", PERSONAL_NUMBER)
    assert writer.compare("il-fjell", right).status_code == 429
    # Another token has its own budget, and answers that find no difference (a plan of
    # a converged tenant) cost nothing.
    assert all(other.compare("il-fjell", right).status_code == 200 for _ in range(15))
    assert other.compare("il-fjell", guess).status_code == 200
    log = writer.get("/v1/tenants/il-fjell/audit-log", limit=100).json()["items"]
    # The refused calls were neither run nor logged.
    assert sum(1 for entry in log if entry["action"] == "compare") == COMPARE_BUDGET + 16


def test_every_compare_is_audited_with_who_and_which_fields_never_values(
    sandbox: tuple[Store, TestClient],
) -> None:
    writer = _association_written(sandbox)
    writer.compare(
        "il-fjell",
        ("email_account", "", "password", "CANARY-guess"),
        ("tenant", "", "personal_number", PERSONAL_NUMBER),
    )

    log = writer.get("/v1/tenants/il-fjell/audit-log", order="desc", limit=1).json()["items"]
    (entry,) = log
    assert entry["action"] == "compare" and entry["resource"] == "fingerprints"
    assert entry["actor"] == "p" and entry["token"] == "job"
    assert entry["after"] == {"fields": ["email_account.password", "tenant.personal_number"]}
    text = json.dumps(entry)
    assert "CANARY-guess" not in text and PERSONAL_NUMBER not in text and "same" not in text


def _bulk(api: Api, *tenants: tuple[str, tuple[str, str, str, str]]) -> httpx.Response:
    """``POST /v1/bulk/fingerprints:compare``: one (resource, key, field, value) each."""
    body = {
        "tenants": [
            {
                "slug": slug,
                "fields": [dict(zip(("resource", "key", "field", "value"), one, strict=True))],
            }
            for slug, one in tenants
        ]
    }
    response: httpx.Response = api.client.post(
        "/v1/bulk/fingerprints:compare", json=body, headers=api.headers
    )
    return response


def test_bulk_compare_answers_each_tenant_as_its_own_call_would(
    sandbox: tuple[Store, TestClient],
) -> None:
    writer = _association_written(sandbox)
    store, client = sandbox
    stranger = Api(client, store.create_token("someone-else"))
    password = ("email_account", "", "password", PASSWORD)

    answer = _bulk(
        writer,
        ("il-fjell", password),
        ("no-such-club", password),
    )
    theirs = _bulk(stranger, ("il-fjell", password))

    assert answer.status_code == 200, answer.text
    mine, missing = answer.json()["tenants"]
    assert mine == {
        "slug": "il-fjell",
        "fields": [{"resource": "email_account", "key": "", "field": "password", "same": True}],
    }
    assert missing["slug"] == "no-such-club" and missing["problem"]["status"] == 404
    # Another partner's tenant is as missing as one that does not exist.
    assert theirs.json()["tenants"][0]["problem"]["status"] == 404
    assert PASSWORD not in answer.text + theirs.text
    reader = _api(*sandbox, read_only=True)
    refused = _bulk(reader, ("il-fjell", password))
    assert refused.status_code == 403 and refused.json()["type"].endswith("/read-only-token")
    twice = _bulk(writer, ("il-fjell", password), ("il-fjell", password))
    assert twice.status_code == 422 and PASSWORD not in twice.text
    log = writer.get("/v1/tenants/il-fjell/audit-log", limit=100).json()["items"]
    # Audited as the tenant's own call is: one entry per tenant compared (the
    # stranger's, the read-only and the refused bodies were not run).
    assert [e["after"] for e in log if e["action"] == "compare"] == [
        {"fields": ["email_account.password"]}
    ]


def test_bulk_compare_spends_each_tenants_own_budget(
    sandbox: tuple[Store, TestClient],
) -> None:
    writer = _association_written(sandbox)
    second = tenant_body("ok-skogen", organization_number=None, personal_number=PERSONAL_NUMBER)
    assert writer.create("/v1/tenants", second).status_code == 201
    guess = ("tenant", "", "personal_number", "01010112345")
    right = ("tenant", "", "personal_number", PERSONAL_NUMBER)

    for _ in range(COMPARE_BUDGET):
        assert _bulk(writer, ("il-fjell", guess)).status_code == 200
    answer = _bulk(writer, ("il-fjell", right), ("ok-skogen", right))

    spent, other = answer.json()["tenants"]
    assert spent["problem"]["status"] == 429 and "fields" not in spent
    assert 1 <= spent["retry_after"] <= 60
    assert other["fields"][0]["same"] is True
    # The tenant's own call sees the same budget spent.
    assert writer.compare("il-fjell", right).status_code == 429


# -- the client


def test_the_embedded_sandbox_compares_without_building_the_app(tmp_path: Path) -> None:
    """A plan on the embedded sandbox stays on its direct path: the comparison too."""
    from t4o_reconcile.api.embedded import EmbeddedTransport

    store = Store(tmp_path / "sandbox.db")
    token = store.create_token("local")
    with TestClient(create_app(store.path, store=store)) as client:
        _association(Api(client, token))
    transport = EmbeddedTransport(store)
    request = httpx.Request(
        "POST",
        "http://sandbox.invalid/v1/tenants/il-fjell/fingerprints:compare",
        headers={"Authorization": f"Bearer {token}"},
        json={"fields": [{"resource": "email_account", "field": "password", "value": PASSWORD}]},
    )
    import asyncio

    answer = asyncio.run(transport.handle_async_request(request))
    assert answer.status_code == 200
    assert json.loads(answer.read())["fields"][0]["same"] is True
    many = httpx.Request(
        "POST",
        "http://sandbox.invalid/v1/bulk/fingerprints:compare",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "tenants": [
                {
                    "slug": "il-fjell",
                    "fields": [{"resource": "email_account", "field": "password", "value": "x"}],
                }
            ]
        },
    )
    answer = asyncio.run(transport.handle_async_request(many))
    assert answer.status_code == 200
    assert json.loads(answer.read())["tenants"][0]["fields"][0]["same"] is False
    assert not transport.app_built
    store.close()


@pytest.mark.e2e
def test_a_plan_with_a_writing_token_still_tells_changed_from_unchanged_secrets(
    server: Server, examples_copy: Path
) -> None:
    secrets = planted()
    env = server.env(**secrets)
    assert cli("apply", examples_copy, "--auto-approve", env=env).returncode == 0
    same = cli("plan", examples_copy, "--detailed-exitcode", env=env)
    rotated = {**secrets, "T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD": "CANARY-rotated"}
    changed = cli(
        "plan", examples_copy, "--detailed-exitcode", "--format", "json", env=server.env(**rotated)
    )

    assert same.returncode == 0, same.stdout  # every secret compared, every one the same
    assert "not compared" not in same.stdout
    assert changed.returncode == 2, changed.stdout
    document = json.loads(changed.stdout)
    updates = [
        action["address"]
        for tenant in document["tenants"]
        for action in tenant["actions"]
        if action["action"] == "update"
    ]
    assert updates == ["ok-skogen.email_account"], updates
    assert document["partial"] is False
    assert_no_canary(outputs([same, changed]), canaries_of(server, rotated))


@pytest.mark.e2e
def test_a_plan_with_a_read_only_token_says_secrets_not_compared(
    server: Server, examples_copy: Path
) -> None:
    secrets = planted()
    assert cli("apply", examples_copy, "--auto-approve", env=server.env(**secrets)).returncode == 0
    made = cli(
        "sandbox", "token", "create", "--db", server.db, "--partner", "e2e-partner", "--read-only",
        env=server.env(),
    )  # fmt: skip
    reader = made.stdout.strip().splitlines()[-1]
    rotated = {name: f"{value}-rotated" for name, value in secrets.items()}
    rotated = {k: secrets[k] if k.endswith("PERSONAL_NUMBER") else v for k, v in rotated.items()}

    def rename(doc: Any) -> None:
        doc["name"] = "OK Skogen (renamed)"

    edit_tenant(examples_copy, "ok-skogen", rename)
    text = cli("plan", examples_copy, env=server.env(**rotated, T4O_API_TOKEN=reader))
    as_json = cli(
        "plan", examples_copy, "--format", "json", env=server.env(**rotated, T4O_API_TOKEN=reader)
    )

    assert text.returncode == 0, text.stderr
    assert "Partial plan: these secrets were not compared" in text.stdout
    document = json.loads(as_json.stdout)
    assert document["partial"] is True
    assert len(document["uncompared_secrets"]) == len(secrets)
    changed = [
        (action["address"], action["changed_paths"])
        for tenant in document["tenants"]
        for action in tenant["actions"]
    ]
    # The rename shows; the rotated secrets cannot be told from the stored ones.
    assert [address for address, _ in changed] == ["ok-skogen.identity"], changed
    with server.client() as client:
        client.headers["Authorization"] = f"Bearer {reader}"
        for path in ("/v1/bulk/tenants", "/v1/tenants/il-fjellrev"):
            answer = client.get(path)
            assert answer.status_code == 200 and _LEAKS.search(answer.text) is None, answer.text
    assert_no_canary(outputs([text, as_json]), canaries_of(server, rotated))


def test_a_plan_on_the_embedded_sandbox_asks_once_per_tenant_with_secrets(
    tmp_path: Path,
) -> None:
    """Each of the examples' tenants holding secrets asked once, through the bulk
    compare call; and still without FastAPI."""
    examples = Path(__file__).resolve().parents[2] / "examples" / "tenants"
    with_secrets = sum(1 for path in examples.glob("*.yaml") if "secret: env:" in path.read_text())
    env = {
        "PATH": "/usr/bin:/bin",
        "T4O_SANDBOX_DB": str(tmp_path / "sandbox.db"),
        "PYTHONPATH": str(examples.parents[1]),
        **example_secrets(),
    }
    applied = subprocess.run(
        [sys.executable, "-m", "t4o_reconcile", "apply", str(examples), "--auto-approve"],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    script = (
        "import json, sys\n"
        "from t4o_reconcile.api import embedded\n"
        "calls = []\n"
        "asked = []\n"
        "original = embedded.EmbeddedTransport.handle_async_request\n"
        "async def counted(self, request):\n"
        "    calls.append((request.method, request.url.path))\n"
        "    if request.method == 'POST':\n"
        "        asked.extend(t['slug'] for t in json.loads(await request.aread())['tenants'])\n"
        "    return await original(self, request)\n"
        "embedded.EmbeddedTransport.handle_async_request = counted\n"
        "from t4o_reconcile.cli import main\n"
        "try:\n"
        f"    main(['plan', {str(examples)!r}, '--detailed-exitcode'])\n"
        "except SystemExit as exit:\n"
        "    print('exit', exit.code, file=sys.stderr)\n"
        "posts = [path for method, path in calls if method != 'GET']\n"
        "print('posts', set(posts), file=sys.stderr)\n"
        "print('compares', len(asked), len(set(asked)), file=sys.stderr)\n"
        "print('fastapi', 'fastapi' in sys.modules, file=sys.stderr)\n"
    )
    planned = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path
    )

    assert with_secrets >= 4 and applied.returncode == 0, applied.stderr
    assert "exit 0" in planned.stderr, planned.stdout + planned.stderr  # converged, compared
    # Through the bulk call (how many calls depends on when each tenant is ready).
    assert "posts {'/v1/bulk/fingerprints:compare'}" in planned.stderr, planned.stderr
    assert f"compares {with_secrets} {with_secrets}" in planned.stderr, planned.stderr
    assert "fastapi False" in planned.stderr


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"tenants": [], "extra": 1}, "body"),
        ({"tenants": []}, "tenants"),
        ({"tenants": [{"slug": "a-club"}] * 101}, "tenants"),
        ({"tenants": ["a-club"]}, "tenants.0"),
        ({"tenants": [{"slug": "A Club", "fields": []}]}, "tenants.0.slug"),
        ({"tenants": [{"slug": "a-club", "fields": []}]}, "tenants.0.fields"),
        (
            {"tenants": [{"slug": "a-club", "fields": [{"resource": "users"}]}]},
            "tenants.0.fields.0",
        ),
        (
            {
                "tenants": [
                    {
                        "slug": "a-club",
                        "fields": [{"resource": "tenant", "field": "name", "value": "x"}],
                    }
                ]
            },
            "tenants.0.fields.0.field",
        ),
    ],
)
def test_a_bulk_compare_body_of_another_shape_names_where(body: Any, field: str) -> None:
    from t4o_reconcile.sandbox.rules import ProblemError
    from t4o_reconcile.sandbox.secrets import bulk_candidates

    with pytest.raises(ProblemError) as raised:
        bulk_candidates(body)

    assert raised.value.rule.status == 422 and raised.value.field == field
