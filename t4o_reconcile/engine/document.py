"""The plan as a JSON document: versioned, stable keys, described by
``schemas/plan.schema.json`` (``engine.plan_schema``).

``render.json`` prints it with secrets masked; the saved plan file (``engine.planfile``) is
the same document with secrets kept as references, versions and the config digest.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from t4o_reconcile.engine.plan import Action, Attribution, Plan, PlanError, TenantPlan
from t4o_reconcile.engine.sensitive import mask, to_json

FORMAT_VERSION = 1


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    """The plan with every secret shown as ``(sensitive)``."""
    return plan_document(plan, secret=mask)


def plan_document(plan: Plan, *, secret: Callable[[object], Any]) -> dict[str, Any]:
    document = plan_head(plan, secret=secret)
    document["tenants"] = [tenant_document(tenant, secret) for tenant in plan.tenants]
    return document


def plan_head(plan: Plan, *, secret: Callable[[object], Any]) -> dict[str, Any]:
    """The plan document without its ``tenants`` (see ``iter_json``)."""
    counts = plan.counts()
    errors = [*plan.errors, *(e for t in plan.tenants for e in t.errors)]
    return {
        "format_version": FORMAT_VERSION,
        "plan_id": plan.plan_id,
        "target": plan.target,
        "endpoint": plan.endpoint,
        "identity": plan.identity,
        "commit": plan.commit,
        "deletes_approved": plan.deletes_approved,
        "targeted": None
        if plan.only is None and plan.changed_since is None
        else {
            "tenants": plan.only,
            "changed_since": plan.changed_since,
            "skipped": plan.skipped_tenants,
        },
        "summary": {
            **counts,
            "errors": len(errors),
            "unmanaged": len(plan.unmanaged_tenants),
            "leaving": len(plan.leaving),
        },
        "has_changes": plan.has_changes,
        "has_errors": plan.has_errors,
        "has_drift": plan.has_changes or bool(plan.unmanaged_tenants),
        "partial": plan.partial,
        "uncompared_secrets": plan.uncompared,
        "agreement_actions": [action_to_dict(a, secret) for a in plan.agreement_actions],
        "errors": [error_to_dict(e) for e in plan.errors],
        "unmanaged_tenants": list(plan.unmanaged_tenants),
        "leaving_management": list(plan.leaving),
        "agreement_users": [
            {
                "agreement": u.agreement,
                "before": u.before,
                "after": u.after,
                "pending_before": u.pending_before,
                "pending_after": u.pending_after,
            }
            for u in plan.agreement_users
        ],
    }


def tenant_document(tenant: TenantPlan, secret: Callable[[object], Any]) -> dict[str, Any]:
    return {
        "slug": tenant.slug,
        "source": tenant.source,
        "actions": [action_to_dict(a, secret) for a in tenant.actions],
        "errors": [error_to_dict(e) for e in tenant.errors],
        "deletes_need_flag": list(tenant.deletes_need_flag),
    }


def iter_json(
    head: dict[str, Any], tenants: Iterable[dict[str, Any]], *, indent: int | None = None
) -> Iterator[str]:
    """``json.dumps({**head, "tenants": list(tenants)}, sort_keys=True, indent=indent,
    ensure_ascii=False)`` to the byte, in pieces: one per tenant, made as it is written,
    so a plan of thousands of tenants is never held whole as a document or as text.
    (JSON strings hold no raw newline, so indenting a piece's lines is safe.)"""

    def dump(value: Any, level: int) -> str:
        text = json.dumps(value, sort_keys=True, indent=indent, ensure_ascii=False)
        return text.replace("\n", "\n" + " " * (indent * level)) if indent else text

    if "tenants" in head:
        raise ValueError("the head of a plan document holds no tenants")
    keys = sorted([*head, "tenants"])
    comma, colon = (",", ": ") if indent else (", ", ": ")
    inner = "\n" + " " * indent if indent else ""
    yield "{" + inner
    for position, key in enumerate(keys):
        if position:
            yield comma + inner
        yield json.dumps(key, ensure_ascii=False) + colon
        if key != "tenants":
            yield dump(head[key], 1)
            continue
        deeper = "\n" + " " * (2 * indent) if indent else ""
        empty = True
        for tenant in tenants:
            yield ("[" if empty else comma) + deeper + dump(tenant, 2)
            empty = False
        yield "[]" if empty else inner + "]"
    yield ("\n" if indent else "") + "}"


def action_to_dict(action: Action, secret: Callable[[object], Any]) -> dict[str, Any]:
    return {
        "address": action.address,
        "tenant": action.tenant,
        "section": action.section,
        "key": action.key,
        "action": action.kind,
        "before": to_json(action.before, secret),
        "after": to_json(action.after, secret),
        "changed_paths": list(action.changed_paths),
        "sensitive_paths": list(action.sensitive_paths),
        "reason": action.reason,
        "version": action.version,
        "drift": None if action.drift is None else attribution_to_dict(action.drift),
    }


def attribution_to_dict(drift: Attribution) -> dict[str, Any]:
    return {
        "at": drift.at,
        "actor": drift.actor,
        "token": drift.token,
        "client": drift.client,
        "change": drift.change,
        "entry": drift.entry,
    }


def error_to_dict(error: PlanError) -> dict[str, Any]:
    return {"address": error.address, "message": error.message, "source": error.source}
