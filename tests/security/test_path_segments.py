"""Class 1: every value that becomes part of a URL is exactly one path segment.

A user e-mail holding ``/`` and ``..`` once became extra path segments: adding and then
removing one user of tenant A renamed, then deleted, tenant B. Each layer refuses such a
key on its own: the configuration model, the client, and the sandbox.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from t4o_reconcile.api.client import ApiClient
from t4o_reconcile.api.http_provider import HttpProvider, resource_path
from t4o_reconcile.engine.plan import Action
from t4o_reconcile.engine.provider import ActionResult, ExecutionContext
from t4o_reconcile.errors import UnsafePathError
from tests.api.aio import run
from tests.e2e.conftest import Server, cli
from tests.e2e.helpers import edit_tenant, live_state
from tests.security.canary import assert_no_canary, canaries_of, outputs, planted

pytestmark = pytest.mark.e2e

# From ok-skogen's users, three levels up, into tenant kartverkstedet.
HOSTILE_EMAIL = "x@evil.no/../../../kartverkstedet"


def test_a_hostile_user_email_never_reaches_another_tenant(
    server: Server, examples_copy: Path
) -> None:
    secrets = planted()
    env = server.env(**secrets)
    first = cli("apply", examples_copy, "--auto-approve", env=env)
    assert first.returncode == 0, first.stderr
    before = live_state(server)

    def add_user(doc: Any) -> None:
        doc["users"].append({"email": HOSTILE_EMAIL, "name": "Kartverkstedet AS", "role": "member"})

    edit_tenant(examples_copy, "ok-skogen", add_user)
    runs = [
        cli("validate", examples_copy, env=env),
        cli("plan", examples_copy, env=env),
        cli("apply", examples_copy, "--auto-approve", env=env),
    ]

    for done in runs:
        assert done.returncode == 1, done.stdout + done.stderr
        assert "ok-skogen.yaml:" in done.stderr
        assert "users[" in done.stderr and "].email: expected an e-mail address" in done.stderr
    assert live_state(server) == before  # nothing anywhere was written
    assert_no_canary(outputs(runs), canaries_of(server, secrets))


class _Recorder(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.paths: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return httpx.Response(204)


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("users", HOSTILE_EMAIL),
        ("users", ".."),
        ("users", "a\\b@x.no"),
        ("bank_accounts", "../../kartverkstedet"),
        ("connections", "eventor-norway/../../../kartverkstedet"),
        ("email_templates", "invoice/../../../../kartverkstedet"),
        ("email_templates", "invoice/nb/x"),
    ],
)
def test_the_client_refuses_a_path_outside_its_tenant(section: str, key: str) -> None:
    transport = _Recorder()
    provider = HttpProvider(
        ApiClient("http://api.invalid", "token", transport=transport), target="test"
    )
    action = Action("ok-skogen", section, key, "delete", before={}, after=None, version="1")

    async def go() -> ActionResult:
        try:
            return await provider.execute(action, ExecutionContext(idempotency_key="k"))
        finally:
            await provider.aclose()

    result = run(go())

    assert result.outcome == "failed"
    assert "refusing" in result.message
    assert transport.paths == []  # no request left the client
    with pytest.raises(UnsafePathError):
        resource_path("ok-skogen", section, key)


def test_the_sandbox_refuses_keys_that_are_not_one_segment(
    server: Server, examples_copy: Path
) -> None:
    env = server.env(**planted())
    assert cli("apply", examples_copy, "--auto-approve", env=env).returncode == 0
    before = live_state(server)
    with server.client() as client:
        invite = client.post(
            "/v1/tenants/ok-skogen/users",
            json={"email": HOSTILE_EMAIL, "name": "X", "invited_by": "kari.nordmann@ok-skogen.no"},
            headers={"Idempotency-Key": "hostile-1"},
        )
        agreement = client.post(
            "/v1/agreements",
            json={"name": "a/../b", "customer_number": "1"},
            headers={"Idempotency-Key": "hostile-2"},
        )
        encoded = client.get("/v1/tenants/ok-skogen/users/x%2F..%2F..%2F..%2Fkartverkstedet")
        raw_dots = httpx.Request("GET", server.url + "/v1/tenants/ok-skogen/users/%2E%2E")
        raw_dots.headers["Authorization"] = f"Bearer {server.token}"
        dotted = client.send(raw_dots)
    assert invite.status_code == 422, invite.text
    assert agreement.status_code == 422, agreement.text
    assert encoded.status_code == 422, encoded.text
    assert dotted.status_code in (404, 422), dotted.text
    assert live_state(server) == before
