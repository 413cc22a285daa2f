"""Plans for renderer tests, built by the real engine from engine test snapshots."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import Plan, TenantPlan
from t4o_reconcile.engine.snapshot import Fingerprint, Item
from t4o_reconcile.render.json import iter_json_plan
from tests.engine.builders import agreements, desired_tenant, live_twin, snapshot


def mixed_plan() -> Plan:
    """One of each: create, update (with a secret), delete, move, an error, a flag."""
    want = desired_tenant(agreement="NOF")
    have = live_twin(desired_tenant())
    have.sections["identity"][""].fields["contact"]["phone"] = "+4799999999"
    have.sections["connections"]["eventor-norway"].fields["token"] = Fingerprint().answered(
        "another token", False
    )
    # A floor above live but at or below the last issued number: the plan's error (live
    # itself never holds such numbers; a raced invoice run could).
    have.sections["invoicing"][""].fields.update(last_invoice_number=1500, next_invoice_number=900)
    del want.sections["users"]["kari@ok-skogen.no"]
    have.sections["email_templates"]["order/en"] = Item(
        {"kind": "order", "language": "en", "name": "O", "subject": "s", "body": "b"}, version="2"
    )
    live = snapshot(have, live_twin(desired_tenant("ok-stray")), agreements={})
    return make_plan(
        snapshot(want, desired_tenant("ok-new"), agreements=agreements(("NOF", "1001"))),
        live,
        target="sandbox (.t4o/sandbox.db)",
    )


def tenant_plan(plan: Plan, slug: str) -> TenantPlan:
    return next(t for t in plan.tenants if t.slug == slug)


def set_first_error(plan: Plan, slug: str, message: str) -> None:
    """Put ``message`` in the first error of ``slug``'s plan (tenants are frozen)."""
    tenant = tenant_plan(plan, slug)
    first, *rest = tenant.errors
    plan.tenants.replace(replace(tenant, errors=(replace(first, message=message), *rest)))


def json_document(plan: Plan) -> dict[str, Any]:
    """The plan as ``plan --format json`` prints it, every secret shown as ``(sensitive)``."""
    document: dict[str, Any] = json.loads("".join(iter_json_plan(plan)))
    return document
