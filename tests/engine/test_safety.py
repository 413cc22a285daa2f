"""Which deletes need --allow-deletes."""

from __future__ import annotations

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.snapshot import Item, SafetyOptions

from .builders import desired_tenant, live_twin, snapshot


def _with_extra_templates(count: int):  # type: ignore[no-untyped-def]
    want = desired_tenant()
    have = live_twin(want)
    for n in range(count):
        key = f"order/x{n}"
        have.sections["email_templates"][key] = Item({"kind": "order", "language": f"x{n}"})
    return want, have


def test_deleting_any_user_needs_the_flag() -> None:
    want = desired_tenant()
    have = live_twin(want)
    del want.sections["users"]["kari@ok-skogen.no"]
    plan = make_plan(snapshot(want), snapshot(have), target="t")
    assert plan.tenants[0].deletes_need_flag == ("deletes user kari@ok-skogen.no",)


def test_deleting_any_bank_account_needs_the_flag() -> None:
    want = desired_tenant()
    have = live_twin(want)
    del want.sections["bank_accounts"]["12345678903"]
    plan = make_plan(snapshot(want), snapshot(have), target="t")
    assert plan.tenants[0].deletes_need_flag == ("deletes bank account 12345678903",)


def test_a_few_deletes_of_other_items_need_no_flag() -> None:
    want, have = _with_extra_templates(2)
    plan = make_plan(snapshot(want), snapshot(have), target="t")
    assert plan.counts()["delete"] == 2
    assert plan.tenants[0].deletes_need_flag == ()


def test_deleting_more_than_the_share_needs_the_flag() -> None:
    want, have = _with_extra_templates(6)
    managed = sum(len(items) for items in have.sections.values())
    assert 6 / managed > 0.25
    plan = make_plan(snapshot(want), snapshot(have), target="t")
    (reason,) = plan.tenants[0].deletes_need_flag
    assert reason.startswith(f"deletes 6 of {managed} managed items")


def test_the_tenant_threshold_overrides_the_global_one() -> None:
    want, have = _with_extra_templates(6)
    strict = SafetyOptions(max_delete_share=0.1, min_delete_items=2)
    relaxed = SafetyOptions(max_delete_share=0.5, min_delete_items=3)
    assert (
        make_plan(snapshot(want), snapshot(have), target="t", safety=strict)
        .tenants[0]
        .deletes_need_flag
    )
    want.safety = relaxed
    plan = make_plan(snapshot(want), snapshot(have), target="t", safety=strict)
    assert plan.tenants[0].deletes_need_flag == ()
