"""Plan errors: what apply would fail on is reported before anything is written."""

from __future__ import annotations

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.snapshot import Item, Snapshot

from .builders import agreements, desired_tenant, live_twin, snapshot


def plan_of(want: Snapshot, have: Snapshot) -> Plan:
    return make_plan(want, have, target="test")


def messages(plan: Plan) -> list[str]:
    return [e.message for e in plan.errors] + [e.message for t in plan.tenants for e in t.errors]


def test_a_counter_live_has_moved_past_the_file_is_neither_a_change_nor_an_error() -> None:
    # Issue 22, item 1: the file's number is a floor; after invoices live is ahead of it.
    want = desired_tenant()
    have = live_twin(want)
    have.sections["invoicing"][""].fields.update(last_invoice_number=1200, next_invoice_number=1201)
    plan = plan_of(snapshot(want), snapshot(have))
    assert messages(plan) == []
    assert [a for t in plan.tenants for a in t.actions if a.section == "invoicing"] == []


def test_next_invoice_number_above_the_last_issued_one_is_fine() -> None:
    want = desired_tenant()
    have = live_twin(want)
    have.sections["invoicing"][""].fields.update(last_invoice_number=999, next_invoice_number=1005)
    assert messages(plan_of(snapshot(want), snapshot(have))) == []


def test_a_customer_counter_live_has_moved_past_the_file_is_no_change() -> None:
    want = desired_tenant()
    have = live_twin(want)
    have.sections["invoicing"][""].fields.update(last_customer_number=500, next_customer_number=501)
    plan = plan_of(snapshot(want), snapshot(have))
    assert messages(plan) == []
    assert [a for t in plan.tenants for a in t.actions if a.section == "invoicing"] == []


def test_removing_the_owner_is_an_error() -> None:
    want = desired_tenant()
    have = live_twin(want)
    del want.sections["users"]["eva@ok-skogen.no"]
    assert any(
        "removing the owner eva@ok-skogen.no" in m
        for m in messages(plan_of(snapshot(want), snapshot(have)))
    )


def test_demoting_the_owner_or_naming_another_owner_is_an_error() -> None:
    want = desired_tenant()
    have = live_twin(want)
    want.sections["users"]["eva@ok-skogen.no"].fields["role"] = "admin"
    want.sections["users"]["ola@ok-skogen.no"].fields["role"] = "owner"
    found = messages(plan_of(snapshot(want), snapshot(have)))
    assert any("demoting the owner eva@ok-skogen.no" in m for m in found)
    assert any("ola@ok-skogen.no cannot become owner" in m for m in found)


def test_a_new_tenant_needs_its_owner_in_users() -> None:
    want = desired_tenant()
    want.sections["users"]["eva@ok-skogen.no"].fields["role"] = "admin"
    assert (
        "a new tenant needs its owner in users" in messages(plan_of(snapshot(want), snapshot()))[0]
    )


def test_leaving_no_invoice_account_is_an_error() -> None:
    want = desired_tenant()
    have = live_twin(want)
    want.sections["bank_accounts"]["15030012345"].fields["invoice_account"] = False
    (message,) = messages(plan_of(snapshot(want), snapshot(have)))
    assert "no bank account would be invoice_account" in message


def test_deleting_every_bank_account_is_an_error() -> None:
    want = desired_tenant()
    have = live_twin(want)
    want.sections["bank_accounts"] = {}
    (message,) = messages(plan_of(snapshot(want), snapshot(have)))
    assert "deleting all bank accounts" in message


def test_joining_an_unknown_agreement_is_an_error() -> None:
    want = desired_tenant(agreement="Nope")
    found = messages(plan_of(snapshot(want, agreements=agreements(("NOF", "1"))), snapshot()))
    assert any("unknown agreement 'Nope'" in m and "NOF" in m for m in found)


def test_deleting_an_agreement_that_keeps_tenants_is_an_error() -> None:
    member = live_twin(desired_tenant("ok-member", agreement="Old"))
    member.sections["users"]["x@y.no"] = Item({"email": "x@y.no"})
    plan = plan_of(snapshot(agreements={}), snapshot(member, agreements=agreements(("Old", "1"))))
    (message,) = messages(plan)
    assert "agreement Old still holds tenants (ok-member)" in message
