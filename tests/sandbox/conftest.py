from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette prefers httpx2; httpx is what we ship
    from fastapi.testclient import TestClient

from t4o_reconcile.sandbox.app import create_app
from t4o_reconcile.sandbox.store import Store

from .helpers import Api, tenant_body


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    app = create_app(tmp_path / "sandbox.db")
    yield app
    app.state.store.close()


@pytest.fixture
def store(app: FastAPI) -> Store:
    store: Store = app.state.store
    return store


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


@pytest.fixture
def api(client: TestClient, store: Store) -> Api:
    return Api(client, store.create_token(partner="nof"))


@pytest.fixture
def tenant(api: Api) -> str:
    # Licences to spare, and an owner who may write custom e-mail templates: the rules
    # about those have their own tests (test_domain_rules.py).
    owner = {
        "email": "owner@ok-skogen.no",
        "name": "Olga Owner",
        "programs": {"invoicing": "admin"},
        "custom_invoice_email": True,
    }
    body = tenant_body("ok-skogen", billing={"licenses": 10}, owner=owner)
    response = api.create("/v1/tenants", body)
    assert response.status_code == 201, response.text
    return "ok-skogen"
