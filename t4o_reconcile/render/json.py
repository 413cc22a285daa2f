"""The machine-readable plan (``--format json``): the engine's plan document, secrets
masked, one line. It is printed to terminals and CI logs too, so what ``escape.visible``
shows is written as JSON escapes (``escape.json_safe``): the same document to a parser."""

from __future__ import annotations

from collections.abc import Iterator

from t4o_reconcile.engine.document import iter_json, plan_head, tenant_document
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.sensitive import mask
from t4o_reconcile.render.escape import json_safe


def render_json(plan: Plan) -> str:
    return "".join(iter_json_plan(plan))


def iter_json_plan(plan: Plan) -> Iterator[str]:
    """The JSON plan in pieces, one per tenant (``render_json``, streamed)."""
    # Compact: the C encoder keeps a 30,000-action plan fast; pipe through jq to read it.
    tenants = (tenant_document(tenant, mask) for tenant in plan.tenants)
    for piece in iter_json(plan_head(plan, secret=mask), tenants):
        yield json_safe(piece)
    yield "\n"
