"""Property-based fuzzing of every operation with schemathesis, in-process.

Bounded (a few examples per operation) so the run stays well under a minute. The data
is seeded so that generated requests can reach real resources of a real tenant.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from t4o_reconcile.sandbox.app import create_app

from .helpers import tenant_body

_DB = Path(tempfile.mkdtemp(prefix="t4o-fuzz-")) / "fuzz.db"
app = create_app(_DB)
TOKEN = app.state.store.create_token(partner="nof")
schema = schemathesis.openapi.from_asgi("/openapi.json", app)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _seed() -> None:
    from fastapi.testclient import TestClient

    client = TestClient(app)
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": "seed"}
    client.post("/v1/tenants", json=tenant_body("aa"), headers=headers)


_seed()


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_server_errors_and_answers_match_the_schema(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)
