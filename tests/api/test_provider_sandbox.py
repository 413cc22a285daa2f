"""HttpProvider against the real sandbox app, in-process (httpx.ASGITransport).

One scenario walks every section and action kind the way apply would: the versions a
write returns go into the context and guard the next write to the same resource.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from t4o_reconcile.api.client import ApiClient, RetryPolicy
from t4o_reconcile.api.http_provider import HttpProvider
from t4o_reconcile.api.target import Target
from t4o_reconcile.engine.plan import AGREEMENTS, WHOLE_TENANT, Action
from t4o_reconcile.engine.provider import ActionResult, ExecutionContext
from t4o_reconcile.engine.snapshot import Fingerprint, Item, Secret, TenantSnapshot
from t4o_reconcile.sandbox.app import create_app
from t4o_reconcile.sandbox.faults import Faults
from t4o_reconcile.sandbox.store import Store
from tests.api.aio import run

EVENTOR = "eventor-secret-token-0001"
EVENTOR_NEW = "eventor-secret-token-0002"
SMTP = "smtp-password-never-shown"
SECRETS = (EVENTOR, EVENTOR_NEW, SMTP)
SLUG = "ok-skogen"
OWNER = "kari@ok-skogen.no"
ACCOUNT_A = "15030012345"  # valid Norwegian account numbers (MOD11)
ACCOUNT_B = "86011117947"


async def _no_sleep(seconds: float) -> None:
    return None


def make_provider(db: Path, faults: Faults | None = None, attempts: int = 4) -> HttpProvider:
    store = Store(db)
    token = store.create_token(partner="test")
    store.close()
    client = ApiClient(
        "http://sandbox.test",
        token,
        transport=httpx.ASGITransport(app=create_app(db, faults)),
        retry=RetryPolicy(attempts=attempts),
        sleep=_no_sleep,
    )
    return HttpProvider(client, target="sandbox")


class Run:
    """Executes actions as apply does: one map of the versions the results taught, a fresh
    key per action."""

    def __init__(self, provider: HttpProvider) -> None:
        self.provider = provider
        self.versions: dict[str, str] = {}
        self.count = 0

    async def do(self, action: Action, *, expect: str = "applied") -> ActionResult:
        self.count += 1
        context = ExecutionContext(f"plan-1:{self.count}:{action.address}", self.versions)
        result = await self.provider.execute(action, context)
        self.versions.update(result.versions)
        assert result.outcome == expect, result.message
        return result


def act(
    section: str,
    key: str,
    kind: str,
    after: dict[str, Any] | None,
    *,
    tenant: str | None = SLUG,
    version: str | None = None,
) -> Action:
    paths = list(after or {})
    return Action(tenant, section, key, kind, None, after, changed_paths=paths, version=version)  # type: ignore[arg-type]


def new_tenant() -> Action:
    return act(
        WHOLE_TENANT,
        "",
        "create",
        {
            "slug": SLUG,
            "name": "OK Skogen",
            "organization_number": "974760673",
            "personal_number": None,
            "contact": {"email": "post@ok-skogen.no", "phone": "+4722334455"},
            "address": {
                "street": "Skogveien 1",
                "postal_code": "0123",
                "city": "Oslo",
                "country": "NO",
            },
            "defaults": {"timing_system": "emit", "finish_code": None},
            "billing": {"licenses": 3, "invoice_recipient": "client", "interval": "yearly"},
            "invoicing": {
                "enabled": True,
                "next_invoice_number": 100,
                "invoices_from_external_system": False,
                "next_customer_number": None,
                "pdf_template": "compact",
            },
            "agreement": "NOF",
            "owner": {"email": OWNER, "name": "Kari Nordmann"},
        },
    )


async def scenario(provider: HttpProvider) -> HttpProvider:
    r = Run(provider)
    empty = await provider.read()
    assert empty.tenants == {} and empty.agreements == {}

    await r.do(
        act(AGREEMENTS, "NOF", "create", {"name": "NOF", "customer_number": "1001"}, tenant=None)
    )
    await r.do(new_tenant())
    # The owner's programs are granted right after the create, with the version it learnt.
    await r.do(
        act(
            "users",
            OWNER,
            "update",
            {
                "programs": {
                    "invoicing": "admin",
                    "accounting": "none",
                    "payroll": "none",
                    "events": "user",
                }
            },
        )
    )
    updates: list[tuple[str, dict[str, Any]]] = [
        ("identity", {"name": "OK Skogen IL"}),
        ("defaults", {"finish_code": "F1"}),
        ("billing", {"licenses": 5}),
        ("invoicing", {"next_invoice_number": 200}),
    ]
    for section, after in updates:
        await r.do(act(section, "", "update", after))

    await r.do(
        act(
            "connections",
            "eventor-norway",
            "create",
            {"connector": "eventor-norway", "token": Secret(EVENTOR)},
        )
    )
    await r.do(act("connections", "eventor-norway", "update", {"token": Secret(EVENTOR_NEW)}))
    await r.do(
        act(
            "email_account",
            "",
            "create",
            {
                "account_name": "Faktura",
                "display_name": "OK Skogen",
                "address": "faktura@ok-skogen.no",
                "username": "faktura",
                "password": Secret(SMTP),
                "smtp_host": "smtp.ok-skogen.no",
                "smtp_port": 587,
                "encryption": "starttls",
            },
        )
    )
    await r.do(act("email_account", "", "update", {"smtp_port": 465, "encryption": "ssl"}))
    await r.do(
        act(
            "users",
            "per@ok-skogen.no",
            "create",
            {
                "email": "per@ok-skogen.no",
                "name": "Per",
                "role": "member",
                "programs": {"invoicing": "user"},
                # Templates need a user holding this right when they are written.
                "custom_invoice_email": True,
            },
        )
    )
    await r.do(act("users", "per@ok-skogen.no", "update", {"role": "admin"}))
    await r.do(
        act(
            "email_templates",
            "invoice/nb",
            "create",
            {
                "kind": "invoice",
                "language": "nb",
                "name": "Faktura",
                "subject": "Faktura {Number}",
                "body": "Forfall {DueDate}",
            },
        )
    )
    await r.do(act("email_templates", "invoice/nb", "update", {"subject": "Faktura nr {Number}"}))

    read = (await provider.read([SLUG])).tenants[SLUG]
    live = read.sections
    # The API alone can say whether a value is the stored secret: asked once for both.
    wanted = TenantSnapshot(
        SLUG,
        {
            "connections": {"eventor-norway": Item({"token": Secret(EVENTOR_NEW)})},
            "email_account": {"": Item({"password": Secret(SMTP)})},
        },
    )
    await provider.compare_secrets(wanted, read)
    assert live["identity"][""].fields["name"] == "OK Skogen IL"
    assert live["defaults"][""].fields == {"timing_system": "emit", "finish_code": "F1"}
    assert live["billing"][""].fields["licenses"] == 5
    assert live["invoicing"][""].fields["next_invoice_number"] == 200
    assert live["invoicing"][""].fields["pdf_template"] == "compact"
    assert live["agreement"][""].fields == {"name": "NOF"}
    assert live["users"][OWNER].fields["programs"]["events"] == "user"
    assert live["users"]["per@ok-skogen.no"].fields["status"] == "pending"
    assert live["users"]["per@ok-skogen.no"].fields["role"] == "admin"
    token = live["connections"]["eventor-norway"].fields["token"]
    assert isinstance(token, Fingerprint) and Secret(EVENTOR_NEW).matches(token)
    assert Secret(SMTP).matches(live["email_account"][""].fields["password"])
    assert live["email_account"][""].fields["smtp_port"] == 465
    assert live["email_templates"]["invoice/nb"].fields["subject"] == "Faktura nr {Number}"

    await r.do(act("users", "per@ok-skogen.no", "delete", None))
    await r.do(act("email_templates", "invoice/nb", "delete", None))
    await r.do(act("email_account", "", "delete", None))
    await r.do(act("connections", "eventor-norway", "delete", None))
    await r.do(act("agreement", "", "move", {"name": None}))
    await r.do(act(AGREEMENTS, "NOF", "update", {"customer_number": "2002"}, tenant=None))
    assert (await provider.read()).agreements["NOF"].fields["customer_number"] == "2002"  # type: ignore[index]
    await r.do(act(AGREEMENTS, "NOF", "delete", None, tenant=None))

    live = (await provider.read()).tenants[SLUG].sections
    for section in ("connections", "email_templates", "email_account"):
        assert live[section] == {}
    assert set(live["users"]) == {OWNER}
    assert live["agreement"][""].fields == {"name": None}
    assert list((await provider.read()).tenants) == [SLUG]

    await r.do(act(WHOLE_TENANT, "", "delete", None))
    assert (await provider.read()).tenants == {}
    return provider


def test_every_section_and_action_kind_against_the_sandbox(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    async def main() -> None:
        provider = make_provider(tmp_path / "db.sqlite")
        try:
            await scenario(provider)
        finally:
            await provider.aclose()

    run(main())
    for secret in SECRETS:
        assert secret not in caplog.text


def test_the_scenario_converges_through_injected_5xx_and_dropped_commits(tmp_path: Path) -> None:
    # A third of the requests fail, writes sometimes after committing: every write must
    # still land exactly once (idempotency keys, If-Match and the 412 re-check).
    async def requests_for(db: Path, faults: Faults | None) -> int:
        provider = make_provider(db, faults, attempts=12)
        try:
            await scenario(provider)
            return provider.client.request_count
        finally:
            await provider.aclose()

    clean = run(requests_for(tmp_path / "clean.sqlite", None))
    faulty = run(requests_for(tmp_path / "faulty.sqlite", Faults(fail_rate=0.3, seed=7)))
    assert faulty > clean  # the retries really happened


async def _with_tenant_and_account(provider: HttpProvider) -> Run:
    r = Run(provider)
    await r.do(new_tenant_without_agreement())
    await r.do(
        act(
            "bank_accounts",
            ACCOUNT_A,
            "create",
            {
                "account_number": ACCOUNT_A,
                "iban": None,
                "swift": None,
                "invoice_account": True,
                "default_for_payments": True,
            },
        )
    )
    await provider.read([SLUG])  # the plan's view
    return r


def new_tenant_without_agreement() -> Action:
    action = new_tenant()
    assert action.after is not None
    action.after["agreement"] = None
    return action


def test_a_radio_flag_moving_away_records_the_other_accounts_new_version(tmp_path: Path) -> None:
    async def main() -> None:
        provider = make_provider(tmp_path / "db.sqlite")
        r = await _with_tenant_and_account(provider)
        old_a = r.versions.get(f'{SLUG}.bank_accounts["{ACCOUNT_A}"]')
        await r.do(
            act(
                "bank_accounts",
                ACCOUNT_B,
                "create",
                {
                    "account_number": ACCOUNT_B,
                    "invoice_account": True,
                    "default_for_payments": False,
                },
            )
        )
        new_a = r.versions[f'{SLUG}.bank_accounts["{ACCOUNT_A}"]']
        assert new_a != old_a
        # The plan's own later write to A goes through with the learnt version.
        await r.do(act("bank_accounts", ACCOUNT_A, "update", {"swift": "DNBANOKK"}, version=old_a))
        accounts = (await provider.read([SLUG])).tenants[SLUG].sections["bank_accounts"]
        assert accounts[ACCOUNT_A].fields["invoice_account"] is False
        assert accounts[ACCOUNT_B].fields["invoice_account"] is True
        assert accounts[ACCOUNT_A].fields["swift"] == "DNBANOKK"
        await provider.aclose()

    run(main())


def test_a_radio_flag_side_effect_on_an_account_someone_else_changed_keeps_the_old_version(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        provider = make_provider(tmp_path / "db.sqlite")
        r = await _with_tenant_and_account(provider)
        plan_view = r.versions[f'{SLUG}.bank_accounts["{ACCOUNT_A}"]']
        # Someone else edits A after the plan read it.
        other = Run(provider)
        other.versions = dict(r.versions)
        await other.do(act("bank_accounts", ACCOUNT_A, "update", {"swift": "NDEANOKK"}))
        provider._live[SLUG].sections["bank_accounts"][ACCOUNT_A].fields["swift"] = None
        await r.do(
            act(
                "bank_accounts",
                ACCOUNT_B,
                "create",
                {
                    "account_number": ACCOUNT_B,
                    "invoice_account": True,
                    "default_for_payments": False,
                },
            )
        )
        assert r.versions[f'{SLUG}.bank_accounts["{ACCOUNT_A}"]'] == plan_view
        result = await r.do(
            act("bank_accounts", ACCOUNT_A, "update", {"swift": "DNBANOKK"}), expect="failed"
        )
        assert result.conflict
        assert "changed since the plan was made; run plan again" in result.message
        await provider.aclose()

    run(main())


def test_a_stale_version_is_a_conflict(tmp_path: Path) -> None:
    async def main() -> None:
        provider = make_provider(tmp_path / "db.sqlite")
        r = Run(provider)
        await r.do(new_tenant_without_agreement())
        stale = act("billing", "", "update", {"licenses": 9}, version="1")
        await r.do(act("identity", "", "update", {"name": "Renamed"}))
        r.versions.clear()
        result = await r.do(stale, expect="failed")
        assert result.conflict
        await provider.aclose()

    run(main())


def test_an_api_rule_broken_fails_the_action_with_the_rule_named(tmp_path: Path) -> None:
    async def main() -> None:
        provider = make_provider(tmp_path / "db.sqlite")
        r = Run(provider)
        await r.do(new_tenant_without_agreement())
        result = await r.do(
            act("invoicing", "", "update", {"next_invoice_number": 0}), expect="failed"
        )
        assert "next_invoice_number" in result.message
        await provider.aclose()

    run(main())


def test_read_of_named_tenants_reads_only_those_in_chunks(tmp_path: Path) -> None:
    async def main() -> None:
        provider = make_provider(tmp_path / "db.sqlite")
        r = Run(provider)
        for n in range(3):
            action = replace(new_tenant_without_agreement(), tenant=f"club-{n}")
            assert action.after is not None
            action.after.update(
                slug=f"club-{n}", organization_number=None, personal_number="01010012356"
            )
            await r.do(action)
        assert set((await provider.read(["club-0", "club-2", "missing"])).tenants) == {
            "club-0",
            "club-2",
        }
        assert set((await provider.read()).tenants) == {"club-0", "club-1", "club-2"}
        assert (await provider.read([])).tenants == {}
        await provider.aclose()

    run(main())


def test_the_embedded_target_creates_a_private_local_token_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = Target(url=None, db_path=Path(".t4o/sandbox.db"))

    async def main() -> str:
        provider = HttpProvider.from_target(target.for_provider(2))
        try:
            assert provider.target == "embedded sandbox (.t4o/sandbox.db)"
            assert (await provider.read()).tenants == {}
        finally:
            await provider.aclose()
        return (tmp_path / ".t4o/token").read_text().strip()

    first = run(main())
    mode = stat.S_IMODE(os.stat(tmp_path / ".t4o/token").st_mode)
    assert mode == 0o600
    assert run(main()) == first  # reused, not recreated
    (tmp_path / ".t4o/sandbox.db").unlink()
    assert run(main()) != first  # a new database gets a new token


def test_one_request_per_action_when_the_answers_say_what_else_changed(tmp_path: Path) -> None:
    """A tenant create answers with everything created with it, and a bank account that
    takes a flag answers with the accounts that lost it: no read after either write."""

    async def main() -> None:
        provider = make_provider(tmp_path / "db.sqlite")
        r = Run(provider)
        before = provider.client.request_count
        await r.do(new_tenant_without_agreement())
        assert provider.client.request_count - before == 1
        assert f'{SLUG}.users["{OWNER}"]' in r.versions  # learnt from the answer
        await r.do(
            act(
                "bank_accounts",
                ACCOUNT_A,
                "create",
                {
                    "account_number": ACCOUNT_A,
                    "invoice_account": True,
                    "default_for_payments": True,
                },
            )
        )
        old_a = r.versions[f'{SLUG}.bank_accounts["{ACCOUNT_A}"]']
        before = provider.client.request_count
        await r.do(
            act(
                "bank_accounts",
                ACCOUNT_B,
                "create",
                {
                    "account_number": ACCOUNT_B,
                    "invoice_account": True,
                    "default_for_payments": True,
                },
            )
        )
        assert provider.client.request_count - before == 1
        assert int(r.versions[f'{SLUG}.bank_accounts["{ACCOUNT_A}"]']) == int(old_a) + 1
        await provider.aclose()

    run(main())
