"""The machine-readable plan: a versioned JSON document with stable keys.

The same document, with secrets kept as references instead of ``(sensitive)``, versions
and the config digest, is the saved plan file (``engine.planfile``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from t4o_reconcile.engine.order import sort_agreement_actions, sort_tenant_actions
from t4o_reconcile.engine.plan import Action, Plan, PlanError
from t4o_reconcile.engine.sensitive import mask, to_json

FORMAT_VERSION = 1


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return plan_document(plan, secret=mask)


def render_json(plan: Plan) -> str:
    # Compact: the C encoder keeps a 30,000-action plan fast; pipe through jq to read it.
    return json.dumps(plan_to_dict(plan), sort_keys=True, ensure_ascii=False) + "\n"


def plan_document(plan: Plan, *, secret: Callable[[object], Any]) -> dict[str, Any]:
    counts = plan.counts()
    errors = [*plan.errors, *(e for t in plan.tenants for e in t.errors)]
    return {
        "format_version": FORMAT_VERSION,
        "target": plan.target,
        "summary": {**counts, "errors": len(errors)},
        "has_changes": plan.has_changes,
        "has_errors": plan.has_errors,
        "agreement_actions": [
            action_to_dict(a, secret) for a in sort_agreement_actions(plan.agreement_actions)
        ],
        "tenants": [
            {
                "slug": tenant.slug,
                "source": tenant.source,
                "actions": [action_to_dict(a, secret) for a in sort_tenant_actions(tenant.actions)],
                "errors": [error_to_dict(e) for e in tenant.errors],
                "deletes_need_flag": list(tenant.deletes_need_flag),
            }
            for tenant in plan.tenants
        ],
        "errors": [error_to_dict(e) for e in plan.errors],
        "unmanaged_tenants": list(plan.unmanaged_tenants),
        "agreement_users": [
            {"agreement": u.agreement, "before": u.before, "after": u.after}
            for u in plan.agreement_users
        ],
    }


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
    }


def error_to_dict(error: PlanError) -> dict[str, Any]:
    return {"address": error.address, "message": error.message, "source": error.source}
