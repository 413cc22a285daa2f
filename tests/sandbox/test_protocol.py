"""The protocol of docs/api.md: auth scopes, versions, idempotency, paging, bulk, faults."""

from __future__ import annotations

import warnings
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from t4o_reconcile.sandbox.app import create_app
from t4o_reconcile.sandbox.faults import Faults
from t4o_reconcile.sandbox.store import Store

from .helpers import ORGNR_B, PERSONAL_NUMBER, Api, problem_type, tenant_body

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

T = "/v1/tenants/ok-skogen"

# Auth ------------------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer t4o_000000000000_wrong", "Basic abc"])
def test_no_or_an_unknown_token_is_401(client: TestClient, tenant: str, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = client.get(T, headers=headers)
    assert response.status_code == 401
    assert problem_type(response) == "unauthenticated"


def test_a_tampered_token_is_401(client: TestClient, store: Store, tenant: str) -> None:
    token = store.create_token(partner="nof")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert Api(client, token).get(T).status_code == 200
    assert Api(client, tampered).get(T).status_code == 401


def test_tokens_are_stored_only_as_salted_hashes(store: Store) -> None:
    token = store.create_token(partner="nof")
    assert token.encode() not in store.path.read_bytes()
    wal = store.path.with_name(store.path.name + "-wal")
    assert not wal.exists() or token.encode() not in wal.read_bytes()


def test_another_partners_tenant_is_404_not_403(
    client: TestClient, store: Store, api: Api, tenant: str
) -> None:
    other = Api(client, store.create_token(partner="skiforbundet"))
    assert other.get(T).status_code == 404
    assert other.patch(T, {"name": "x"}, etag='"1"').status_code == 404
    assert other.get("/v1/tenants").json()["items"] == []
    assert other.get("/v1/bulk/tenants").json()["items"] == []


def test_a_tenant_token_sees_its_tenant_only(
    client: TestClient, store: Store, api: Api, tenant: str
) -> None:
    api.create("/v1/tenants", tenant_body("other", organization_number=ORGNR_B))
    own = Api(client, store.create_token(partner="nof", tenant=tenant))
    assert [t["slug"] for t in own.get("/v1/tenants").json()["items"]] == [tenant]
    assert own.get("/v1/tenants/other").status_code == 404
    assert own.patch(T, {"name": "Mine"}).status_code == 200
    created = own.create("/v1/tenants", tenant_body("third", organization_number=ORGNR_B))
    assert created.status_code == 403
    assert problem_type(created) == "tenant-token-forbidden"
    agreement = own.create("/v1/agreements", {"name": "A", "customer_number": "1"})
    assert agreement.status_code == 403


# Versions --------------------------------------------------------------------------


def test_every_resource_carries_its_version_as_etag(api: Api, tenant: str) -> None:
    for path in (T, f"{T}/invoicing", f"{T}/agreement", f"{T}/users/owner@ok-skogen.no"):
        response = api.get(path)
        assert response.headers["etag"] == f'"{response.json()["version"]}"', path


def test_an_update_without_if_match_is_428(api: Api, tenant: str) -> None:
    for response in (api.patch(T, {"name": "x"}, etag=None), api.delete(T, etag=None)):
        assert response.status_code == 428
        assert problem_type(response) == "if-match-required"


def test_a_stale_if_match_is_412_and_a_current_one_bumps_the_version(api: Api, tenant: str) -> None:
    assert api.patch(T, {"name": "First"}, etag='"1"').headers["etag"] == '"2"'
    stale = api.patch(T, {"name": "Second"}, etag='"1"')
    assert stale.status_code == 412
    assert problem_type(stale) == "version-mismatch"
    assert api.get(T).json()["name"] == "First"


def test_an_unchanged_patch_keeps_the_version(api: Api, tenant: str) -> None:
    name = api.get(T).json()["name"]
    assert api.patch(T, {"name": name}).headers["etag"] == '"1"'


# Idempotency -----------------------------------------------------------------------

AGREEMENT = {"name": "Oslo Krets", "customer_number": "10001"}


def test_a_retried_create_returns_the_first_answer(api: Api) -> None:
    first = api.create("/v1/agreements", AGREEMENT, key="key-1")
    retry = api.create("/v1/agreements", AGREEMENT, key="key-1")
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["etag"] == first.headers["etag"]
    assert len(api.get("/v1/agreements").json()["items"]) == 1
    new_key = api.create("/v1/agreements", AGREEMENT, key="key-2")
    assert problem_type(new_key) == "agreement-exists"


def test_a_key_reused_with_another_body_is_422(api: Api) -> None:
    api.create("/v1/agreements", AGREEMENT, key="key-1")
    other = api.create("/v1/agreements", {**AGREEMENT, "customer_number": "2"}, key="key-1")
    assert other.status_code == 422
    assert problem_type(other) == "idempotency-key-reused"


def test_a_create_without_a_key_is_400(client: TestClient, api: Api) -> None:
    response = client.post("/v1/agreements", json=AGREEMENT, headers=api.headers)
    assert response.status_code == 400
    assert problem_type(response) == "idempotency-key-required"


def test_keys_belong_to_a_partner(client: TestClient, store: Store, api: Api) -> None:
    other = Api(client, store.create_token(partner="skiforbundet"))
    assert api.create("/v1/agreements", AGREEMENT, key="same").status_code == 201
    assert other.create("/v1/agreements", AGREEMENT, key="same").status_code == 201
    assert len(other.get("/v1/agreements").json()["items"]) == 1


# Paging and bulk reads ---------------------------------------------------------------


def _slugs(api: Api, n: int) -> list[str]:
    slugs = [f"club-{i:02d}" for i in range(n)]
    for slug in slugs:
        body = tenant_body(slug, organization_number=None, personal_number=PERSONAL_NUMBER)
        assert api.create("/v1/tenants", body).status_code == 201
    return slugs


def _walk(api: Api, path: str, **params: object) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    cursor = None
    while True:
        page = api.get(path, **params, **({"cursor": cursor} if cursor else {})).json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def test_lists_page_through_every_item_once(api: Api) -> None:
    slugs = _slugs(api, 7)
    assert [t["slug"] for t in _walk(api, "/v1/tenants", limit=3)] == slugs
    assert [t["slug"] for t in _walk(api, "/v1/bulk/tenants", limit=2)] == slugs
    log = _walk(api, "/v1/tenants/club-00/audit-log", limit=1)
    assert len(log) == len({e["id"] for e in log}) >= 3


def test_a_bad_cursor_or_limit_is_422(api: Api) -> None:
    assert problem_type(api.get("/v1/tenants", cursor="garbage")) == "invalid-cursor"
    assert problem_type(api.get("/v1/tenants", limit=101)) == "invalid-request"


def test_the_bulk_read_holds_every_section_with_versions(api: Api, tenant: str) -> None:
    api.create(f"{T}/connections", {"connector": "eventor-norway", "token": "s"})
    api.patch(f"{T}/invoicing", {"next_invoice_number": 5})
    config = api.get(f"{T}/config").json()
    assert config["invoicing"] == api.get(f"{T}/invoicing").json()
    assert config["tenant"] == api.get(T).json()
    assert config["connections"] == api.get(f"{T}/connections").json()["items"]
    assert config["users"] == api.get(f"{T}/users").json()["items"]
    assert config["agreement"] == api.get(f"{T}/agreement").json()
    assert config["email_account"] is None
    assert (config["bank_accounts"], config["email_templates"]) == ([], [])
    page = api.get("/v1/bulk/tenants", slugs=f"{tenant},unknown").json()
    assert page["items"] == [config]


# Faults ----------------------------------------------------------------------------


def _faulty(tmp_path: Path, faults: Faults) -> tuple[FastAPI, Api]:
    app = create_app(tmp_path / "faulty.db", faults)
    return app, Api(TestClient(app), app.state.store.create_token(partner="nof"))


def test_above_the_rate_limit_the_answer_is_429_with_retry_after(tmp_path: Path) -> None:
    _, api = _faulty(tmp_path, Faults(rate_limit=0.01))
    assert api.get("/v1/tenants").status_code == 200
    limited = api.get("/v1/tenants")
    assert limited.status_code == 429
    assert problem_type(limited) == "rate-limited"
    assert int(limited.headers["retry-after"]) >= 1


def test_a_failed_request_before_running_changes_nothing(tmp_path: Path) -> None:
    app, api = _faulty(tmp_path, Faults(fail_rate=1.0, drop_after_commit=0.0, seed=1))
    response = api.create("/v1/agreements", AGREEMENT)
    assert response.status_code in (500, 503)
    with app.state.store.transaction(write=False) as tx:
        assert tx.agreements("nof", "", 10) == []


def test_a_write_dropped_after_commit_is_retried_safely_by_its_key(tmp_path: Path) -> None:
    app, api = _faulty(tmp_path, Faults(fail_rate=1.0, drop_after_commit=1.0, seed=1))
    dropped = api.create("/v1/agreements", AGREEMENT, key="retry-me")
    assert dropped.status_code == 503
    healthy = Api(TestClient(create_app(app.state.store.path)), "")
    healthy.headers = api.headers
    retry = healthy.create("/v1/agreements", AGREEMENT, key="retry-me")
    assert retry.status_code == 201
    assert len(healthy.get("/v1/agreements").json()["items"]) == 1


def test_a_fault_rate_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="fail_rate"):
        Faults(fail_rate=2)


@pytest.mark.anyio
async def test_the_app_runs_under_httpx_asgi_transport(tmp_path: Path) -> None:
    app = create_app(tmp_path / "asgi.db")
    token = app.state.store.create_token(partner="nof")
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "k"}
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox") as client:
        created = await client.post("/v1/tenants", json=tenant_body("asgi"), headers=headers)
        assert created.status_code == 201
        listed = await client.get("/v1/tenants", headers=headers)
        assert [t["slug"] for t in listed.json()["items"]] == ["asgi"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_a_tenant_create_answers_with_everything_created_with_it(api: Api) -> None:
    created = api.create("/v1/tenants", tenant_body("ny-klubb")).json()
    config = api.get("/v1/tenants/ny-klubb/config").json()
    assert created["config"] == config  # invoicing, membership, owner and their versions
    assert {k: v for k, v in created.items() if k != "config"} == config["tenant"]


def test_the_rate_limit_is_announced_in_every_answer(tmp_path: Path) -> None:
    _, api = _faulty(tmp_path, Faults(rate_limit=4))
    headers = api.get("/v1/tenants").headers
    assert headers["ratelimit-policy"] == "4;w=1"
    assert headers["ratelimit-limit"] == "4"
    assert headers["ratelimit-remaining"] == "3"
    assert headers["ratelimit"] == f"limit=4, remaining=3, reset={headers['ratelimit-reset']}"
