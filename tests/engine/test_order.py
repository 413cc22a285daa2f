"""Apply order follows the API's rules."""

from __future__ import annotations

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.order import sort_tenant_actions
from t4o_reconcile.engine.plan import AGREEMENTS, WHOLE_TENANT, Action, Plan, TenantPlan
from t4o_reconcile.engine.planstore import TenantStore
from t4o_reconcile.engine.snapshot import Item
from tests.engine.builders import flatten

from .builders import agreements, desired_tenant, live_twin, snapshot


def act(
    kind: str, section: str, key: str = "", tenant: str | None = "t", **after: object
) -> Action:
    return Action(
        tenant=tenant,
        section=section,
        key=key,
        kind=kind,  # type: ignore[arg-type]
        before=None,
        after=dict(after) if after else None,
    )


def addresses(actions: list[Action]) -> list[str]:
    return [f"{a.kind} {a.address}" for a in actions]


def test_agreements_are_created_first_and_deleted_last() -> None:
    plan = Plan(
        target="t",
        agreement_actions=[
            act("delete", AGREEMENTS, "Old", tenant=None),
            act("create", AGREEMENTS, "New", tenant=None),
            act("update", AGREEMENTS, "Kept", tenant=None),
        ],
        tenants=TenantStore([TenantPlan("t", actions=[act("move", "agreement", name="New")])]),
    )
    assert addresses(flatten(plan)) == [
        'create agreements["New"]',
        'update agreements["Kept"]',
        "move t.agreement",
        'delete agreements["Old"]',
    ]


def test_within_a_tenant_the_tenant_then_its_move_then_sections() -> None:
    shuffled = [
        act("create", "users", "a@x.no"),
        act("move", "agreement", name="NOF"),
        act("update", "identity"),
        act("create", WHOLE_TENANT),
    ]
    assert addresses(sort_tenant_actions(shuffled)) == [
        "create t",
        "move t.agreement",
        "update t.identity",
        'create t.users["a@x.no"]',
    ]


def test_bank_accounts_take_the_flag_before_the_old_holder_is_deleted() -> None:
    shuffled = [
        act("delete", "bank_accounts", "old"),
        act("update", "bank_accounts", "other", swift="DNBANOKK"),
        act("update", "bank_accounts", "new-holder", invoice_account=True),
        act("create", "bank_accounts", "created"),
    ]
    assert addresses(sort_tenant_actions(shuffled)) == [
        'create t.bank_accounts["created"]',
        'update t.bank_accounts["new-holder"]',
        'update t.bank_accounts["other"]',
        'delete t.bank_accounts["old"]',
    ]


def test_users_are_invited_before_program_grants_and_deleted_last() -> None:
    shuffled = [
        act("delete", "users", "gone@x.no"),
        act("update", "users", "a@x.no", programs={"invoicing": "user"}),
        act("create", "users", "a@x.no"),
    ]
    assert addresses(sort_tenant_actions(shuffled)) == [
        'create t.users["a@x.no"]',
        'update t.users["a@x.no"]',
        'delete t.users["gone@x.no"]',
    ]


def test_whole_tenant_deletes_come_after_every_other_tenant_action() -> None:
    plan = Plan(
        target="t",
        tenants=TenantStore(
            [
                TenantPlan("gone", actions=[act("delete", WHOLE_TENANT, tenant="gone")]),
                TenantPlan("kept", actions=[act("update", "billing", tenant="kept")]),
            ]
        ),
        agreement_actions=[act("delete", AGREEMENTS, "Old", tenant=None)],
    )
    assert addresses(flatten(plan)) == [
        "update kept.billing",
        "delete gone",
        'delete agreements["Old"]',
    ]


def test_a_real_plan_moves_tenants_out_before_deleting_their_agreement() -> None:
    want = desired_tenant(agreement="New")
    have = live_twin(desired_tenant(agreement="Old"))
    have.sections["bank_accounts"]["99999999999"] = Item(
        {"account_number": "99999999999", "invoice_account": False}
    )
    plan = make_plan(
        snapshot(want, agreements=agreements(("New", "2"))),
        snapshot(have, agreements=agreements(("Old", "1"))),
        target="t",
    )
    assert addresses(flatten(plan)) == [
        'create agreements["New"]',
        "move ok-skogen.agreement",
        'delete ok-skogen.bank_accounts["99999999999"]',
        'delete agreements["Old"]',
    ]
    assert not plan.has_errors
