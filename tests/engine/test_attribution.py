"""Drift attribution, pure: which logged change explains each action, and when it is no
drift at all (this tool wrote the value, or nothing logged touches it)."""

from __future__ import annotations

from typing import Any

from t4o_reconcile.engine.attribution import LiveChange, attribute, touches, wanted
from t4o_reconcile.engine.plan import Action, TenantPlan

PHONE = {"contact": {"email": "a@b.no", "phone": "+4722"}, "name": "OK"}


def change(
    section: str = "identity",
    key: str = "",
    kind: str = "update",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    *,
    entry: int = 1,
    token: str | None = "kari",
    by_tool: bool = False,
) -> LiveChange:
    return LiveChange(
        section=section,
        key=key,
        change=kind,
        before=before,
        after=after,
        at=f"2026-11-23T21:00:{entry:02d}Z",
        actor="nof",
        token=token,
        client="t4o-reconcile/0.1.0" if by_tool else "curl/8.5.0",
        entry=entry,
        by_tool=by_tool,
    )


def tenant(*actions: Action) -> TenantPlan:
    return TenantPlan(slug="ok", actions=list(actions))


def test_the_newest_change_of_the_drifted_field_is_named() -> None:
    phone = Action("ok", "identity", "", "update", {}, {}, ["contact.phone"])
    plan = tenant(phone)
    newer_name = change(
        before=PHONE, after={**PHONE, "name": "Other"}, entry=3, token="ola"
    )  # touches the name only
    phone_change = change(
        before=PHONE, after={**PHONE, "contact": {"email": "a@b.no", "phone": "+4799"}}, entry=2
    )
    older = change(before=None, after=PHONE, kind="create", entry=1, by_tool=True)
    attributed, count = attribute(plan, [newer_name, phone_change, older])
    assert count == 1 and plan.actions[0].drift is None  # frozen: a new tenant plan
    (phone,) = attributed.actions
    assert phone.drift is not None
    assert (phone.drift.entry, phone.drift.token, phone.drift.client) == (2, "kari", "curl/8.5.0")
    assert phone.drift.change == "update"


def test_a_value_this_tool_wrote_is_no_drift() -> None:
    licenses = Action("ok", "billing", "", "update", {}, {}, ["licenses"])
    applied = change("billing", before={"licenses": 5}, after={"licenses": 8}, by_tool=True)
    plan = tenant(licenses)
    assert attribute(plan, [applied]) == (plan, 0)


def test_an_item_deleted_live_is_named_on_its_create_and_one_made_live_on_its_delete() -> None:
    recreate = Action("ok", "users", "a@b.no", "create", None, {"email": "a@b.no"})
    remove = Action("ok", "bank_accounts", "15030012345", "delete", {"x": 1}, None)
    new_item = Action("ok", "email_templates", "invoice/en", "create", None, {"kind": "invoice"})
    changes = [
        change("users", "a@b.no", "delete", {"email": "a@b.no"}, None, entry=5),
        change("bank_accounts", "15030012345", "create", None, {"x": 1}, entry=4, token=None),
    ]
    attributed, count = attribute(tenant(recreate, remove, new_item), changes)
    assert count == 2
    recreate, remove, new_item = attributed.actions
    assert recreate.drift is not None and recreate.drift.change == "delete"
    assert remove.drift is not None and (remove.drift.change, remove.drift.token) == (
        "create",
        None,
    )
    assert new_item.drift is None  # never existed live: a plain create


def test_a_replaced_secret_reads_as_a_change_of_that_field() -> None:
    replaced = change(
        "email_account",
        before={"password": "(sensitive)", "smtp_port": 587},
        after={"password": "(sensitive, replaced)", "smtp_port": 587},
    )
    assert touches(replaced, ("password",))
    assert not touches(replaced, ("smtp_port",))


def test_whole_tenant_actions_and_untouched_resources_are_not_wanted() -> None:
    plan = tenant(
        Action("ok", "tenant", "", "create", None, {"slug": "ok"}),
        Action("ok", "identity", "", "update", {}, {}, ["name"]),
    )
    assert wanted(plan) == {("identity", ""): ("name",)}
    assert attribute(plan, [change("billing", before={}, after={"licenses": 1})])[1] == 0
