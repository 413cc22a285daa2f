"""The plan as a pull-request comment: summary table first, one collapsible block per tenant.

Every value that reaches the comment goes through ``escape`` (the templates' finalize
hook), which turns characters with a meaning in Markdown or HTML into numeric character
references: CommonMark shows those as literal text in prose, tables and raw HTML alike,
so a tenant named ``<script>`` or ``| * _ `` renders as written and cannot break the
layout. The comment stays below GitHub's 65,536-character limit by dropping whole tenant
blocks from the end and saying so.
"""

from __future__ import annotations

from typing import Any

import jinja2

from t4o_reconcile.engine.order import sort_agreement_actions, sort_tenant_actions
from t4o_reconcile.engine.plan import Action, Plan, TenantPlan
from t4o_reconcile.render.common import (
    SYMBOLS,
    error_count,
    field_lines,
    shown_tenants,
    summary_line,
    tenant_counts,
)

MAX_CHARS = 65_000
_HEAD_BUDGET = 24_000  # the summary may take this much; tenant blocks get the rest
_LIST_CAP = 50  # errors, flagged tenants, unmanaged tenants listed before "and N more"
TRUNCATED = (
    "**⚠️ Plan truncated — see the full plan artifact.** {hidden} of {total} tenant"
    " section(s) are not shown above.\n"
)

_SPECIAL = set("&<>\"'`*_[]|\\#~!(){}@$")


def escape(value: Any) -> str:
    """Text safe in Markdown prose, table cells and raw HTML blocks."""
    text = str(value)
    out = []
    for ch in text:
        if ch in _SPECIAL:
            out.append(f"&#{ord(ch)};")
        elif ch in "\r\n\t" or not ch.isprintable():
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("t4o_reconcile.render", "templates"),
    autoescape=False,  # Markdown, not HTML: ``escape`` below handles both
    finalize=escape,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


def render_markdown(plan: Plan, *, max_chars: int = MAX_CHARS) -> str:
    tenants = shown_tenants(plan)
    rows = len(tenants)
    head = _head(plan, tenants, row_cap=rows)
    while len(head) > _HEAD_BUDGET and rows > 0:
        rows = _row_cap_for(head, rows)
        head = _head(plan, tenants, row_cap=rows)
    foot = _env.get_template("foot.md.j2").render(**_foot_context(plan))
    note_room = len(TRUNCATED) + 40
    budget = max_chars - len(head) - len(foot) - note_room

    blocks: list[str] = []
    used = 0
    template = _env.get_template("tenant.md.j2")
    for tenant in tenants:
        block = template.render(tenant=_tenant_context(tenant))
        if used + len(block) > budget:
            break
        blocks.append(block)
        used += len(block)
    note = ""
    if len(blocks) < len(tenants):
        note = TRUNCATED.format(hidden=len(tenants) - len(blocks), total=len(tenants)) + "\n"
    return head + "".join(blocks) + note + foot


def _row_cap_for(head: str, rows: int) -> int:
    # Shrink in proportion to the overshoot, and always by at least one row.
    return max(0, min(rows - 1, int(rows * _HEAD_BUDGET / len(head)) - 1))


def _head(plan: Plan, tenants: list[TenantPlan], *, row_cap: int) -> str:
    errors = [*plan.errors, *(e for t in plan.tenants for e in t.errors)]
    flagged = [t for t in plan.tenants if t.deletes_need_flag]
    rows = [
        {
            **tenant_counts(t),
            "slug": t.slug,
            "errors": len(t.errors),
            "flag": bool(t.deletes_need_flag),
        }
        for t in tenants[:row_cap]
    ]
    return _env.get_template("head.md.j2").render(
        target=plan.target,
        summary=summary_line(plan),
        rows=rows,
        more_rows=len(tenants) - len(rows),
        unchanged=len(plan.tenants) - len(tenants),
        errors=errors[:_LIST_CAP],
        error_total=error_count(plan),
        more_errors=max(0, len(errors) - _LIST_CAP),
        flagged=[
            {"slug": t.slug, "reasons": "; ".join(t.deletes_need_flag)} for t in flagged[:_LIST_CAP]
        ],
        more_flagged=max(0, len(flagged) - _LIST_CAP),
        agreement_actions=[
            _action_context(a) for a in sort_agreement_actions(plan.agreement_actions)
        ],
    )


def _foot_context(plan: Plan) -> dict[str, Any]:
    users = [u for u in plan.agreement_users if u.before or u.after]
    return {
        "unmanaged": ", ".join(plan.unmanaged_tenants[:_LIST_CAP]),
        "more_unmanaged": max(0, len(plan.unmanaged_tenants) - _LIST_CAP),
        "agreement_users": users[:_LIST_CAP],
        "more_agreements": max(0, len(users) - _LIST_CAP),
    }


def _tenant_context(tenant: TenantPlan) -> dict[str, Any]:
    counts = tenant_counts(tenant)
    return {
        "slug": tenant.slug,
        "counts": ", ".join(f"{n} to {kind}" for kind, n in counts.items() if n) or "no changes",
        "errors": tenant.errors,
        "flag": "; ".join(tenant.deletes_need_flag),
        "actions": [_action_context(a) for a in sort_tenant_actions(tenant.actions)],
    }


def _action_context(action: Action) -> dict[str, Any]:
    return {
        "symbol": SYMBOLS[action.kind],
        "address": action.address,
        "reason": action.reason,
        "lines": field_lines(action),
    }
