"""The provider's logs: the audit and distribution logs read in-process from the real
sandbox app, the changes behind drift read newest first, and hostile log answers (wrong
shapes, full personal numbers, raw secrets) refused or masked."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from t4o_reconcile.api import history
from t4o_reconcile.api.client import USER_AGENT, ApiClient, RetryPolicy
from t4o_reconcile.api.http_provider import HttpProvider
from t4o_reconcile.engine.attribution import attribute
from t4o_reconcile.engine.plan import Action, TenantPlan
from t4o_reconcile.errors import UnexpectedAnswer
from t4o_reconcile.sandbox.app import create_app
from t4o_reconcile.sandbox.store import Store
from tests.api.aio import run

SLUG = "ok-skogen"
TENANT: dict[str, Any] = {
    "slug": SLUG,
    "name": "OK Skogen",
    "organization_number": "974760673",
    "contact": {"email": "post@ok-skogen.no", "phone": "+4722334455"},
    "owner": {"email": "kari@ok-skogen.no", "name": "Kari"},
}


class Sandbox:
    """The sandbox app in-process, the tool's provider, and a person's own client."""

    def __init__(self, db: Path) -> None:
        store = Store(db)
        tool_token = store.create_token(partner="nof", name="ci-apply")
        self.person_token = store.create_token(partner="nof", name="kari")
        store.close()
        self.app = create_app(db)
        client = ApiClient(
            "http://sandbox.test",
            tool_token,
            transport=httpx.ASGITransport(app=self.app),
            retry=RetryPolicy(attempts=1),
        )
        self.provider = HttpProvider(client, target="sandbox")

    def person(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url="http://sandbox.test",
            transport=httpx.ASGITransport(app=self.app),
            headers={"Authorization": f"Bearer {self.person_token}", "User-Agent": "curl/8.5.0"},
        )

    async def close(self) -> None:
        await self.provider.aclose()
        self.app.state.store.close()


async def _scenario(db: Path) -> None:
    sandbox = Sandbox(db)
    try:
        client = sandbox.provider.client
        await client.request("POST", "/v1/tenants", json=TENANT, idempotency_key="t1")
        async with sandbox.person() as kari:
            read = await kari.get(f"/v1/tenants/{SLUG}")
            patched = await kari.patch(
                f"/v1/tenants/{SLUG}",
                json={"contact": {**TENANT["contact"], "phone": "+4799990000"}},
                headers={"If-Match": read.headers["etag"]},
            )
            assert patched.status_code == 200, patched.text
            sent = await kari.post(
                f"/v1/tenants/{SLUG}/invoices",
                json={"customer": {"name": "Ola", "email": "ola@kunde.no"}},
                headers={"Idempotency-Key": "i1"},
            )
            assert sent.status_code == 201, sent.text
        audit = await sandbox.provider.audit_log(SLUG)
        assert audit[0].client == USER_AGENT and audit[0].token == "ci-apply"
        phone = next(r for r in audit if r.token == "kari" and r.resource == "tenant")
        assert phone.client == "curl/8.5.0"
        assert phone.at.tzinfo is UTC
        later = await sandbox.provider.audit_log(SLUG, since=datetime.now(UTC) + timedelta(0))
        assert later == []
        log = await sandbox.provider.distribution_log(SLUG, since=phone.at - timedelta(1))
        assert [(d.invoice_number, d.token, d.status) for d in log] == [(1, "kari", "sent")]

        # The plan would put the phone back and change the licences (a config change).
        actions = [
            Action(SLUG, "identity", "", "update", {}, {}, ["contact.phone"]),
            Action(SLUG, "billing", "", "update", {}, {}, ["licenses"]),
        ]
        plan = TenantPlan(slug=SLUG, actions=actions)
        wanted = {("identity", ""): ("contact.phone",), ("billing", ""): ("licenses",)}
        changes = await sandbox.provider.live_changes(SLUG, wanted)
        assert [c.entry for c in changes] == sorted((c.entry for c in changes), reverse=True)
        attributed, count = attribute(plan, changes)
        assert count == 1
        drift = attributed.actions[0].drift
        assert drift is not None
        assert (drift.actor, drift.token, drift.client, drift.change) == (
            "nof",
            "kari",
            "curl/8.5.0",
            "update",
        )
        assert drift.entry == phone.id
        # The licences were last written by the tool itself (the create): no drift.
        assert actions[1].drift is None
    finally:
        await sandbox.close()


def test_logs_and_the_change_behind_a_drift_come_from_the_sandbox(tmp_path: Path) -> None:
    run(_scenario(tmp_path / "sandbox.db"))


# Hostile answers ------------------------------------------------------------------------

ENTRY: dict[str, Any] = {
    "id": 1,
    "at": "2026-11-23T21:00:00.000Z",
    "actor": "nof",
    "token": "kari",
    "client": "curl",
    "action": "update",
    "resource": "tenant",
    "before": {"name": "A", "personal_number": "15037810034"},
    "after": {
        "name": "B",
        "personal_number": {"fingerprint": {"salt": "s", "hash": "h"}, "last_digits": "34"},
        "nested": {"password": "hunter2", "token": {"fingerprint": {}}},
    },
}


def _provider(items: list[Any]) -> HttpProvider:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": items, "next_cursor": None})

    client = ApiClient(
        "https://api.test", "t", transport=httpx.MockTransport(answer), retry=RetryPolicy(1)
    )
    return HttpProvider(client, target="api")


async def _read(items: list[Any]) -> list[history.AuditRecord]:
    provider = _provider(items)
    try:
        return await provider.audit_log(SLUG)
    finally:
        await provider.aclose()


def test_a_full_personal_number_or_a_raw_secret_from_the_api_is_masked() -> None:
    [record] = run(_read([ENTRY]))
    text = json.dumps(record.to_dict(), ensure_ascii=False)
    assert "15037810034" not in text and "hunter2" not in text
    assert record.before is not None and record.after is not None
    assert record.before["personal_number"] == "(sensitive …34)"
    assert record.after["personal_number"] == "(sensitive …34)"
    assert record.after["nested"] == {"password": "(sensitive)", "token": "(sensitive)"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": "1"}, "a log entry's id: expected a whole number, got str"),
        ({"at": "yesterday"}, "a log entry's at: expected an ISO 8601 time"),
        ({"actor": None}, "a log entry's actor: expected a string, got nothing"),
        ({"action": "explode"}, "a log entry's action: expected one of create"),
        ({"before": ["x"]}, "a log entry's before: expected an object or null, got list"),
    ],
)
def test_a_malformed_log_entry_is_one_clear_error(change: dict[str, Any], message: str) -> None:
    with pytest.raises(UnexpectedAnswer, match="GET /v1/tenants/ok-skogen/audit-log") as caught:
        run(_read([{**ENTRY, **change}]))
    assert message in str(caught.value)


def test_a_log_that_is_not_a_list_of_objects_is_refused() -> None:
    with pytest.raises(UnexpectedAnswer, match="expected an object, got str"):
        run(_read(["entry"]))


def test_a_distribution_entry_with_an_unknown_status_is_refused() -> None:
    with pytest.raises(UnexpectedAnswer, match="expected 'sent' or 'failed'"):
        history.distribution_record(
            {
                "id": 1,
                "at": "2026-11-23T21:00:00Z",
                "invoice_number": 1,
                "issued_by": "nof",
                "channel": "email",
                "customer": "C",
                "language": "nb",
                "status": "lost",
            },
            "GET /v1/tenants/x/distribution-log",
        )


def test_audit_resources_map_to_the_engine_sections() -> None:
    assert history.sections_of("tenant") == [("identity", ""), ("defaults", ""), ("billing", "")]
    assert history.sections_of('bank_accounts["15030012345"]') == [("bank_accounts", "15030012345")]
    assert history.sections_of('email_templates["invoice/en"]') == [
        ("email_templates", "invoice/en")
    ]
    assert history.sections_of("agreement") == [("agreement", "")]
    assert history.sections_of("something else") == []
