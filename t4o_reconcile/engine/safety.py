"""Which deletes need ``--allow-deletes``.

Deleting any item of a section whose deletes always need the flag (users, bank
accounts: ``Section.deletes_need_flag``), or more than a share of a tenant's managed items
(and at least a minimum count), is never done by accident: apply refuses the tenant
unless the operator passes the flag.
"""

from __future__ import annotations

from collections.abc import Sequence

from t4o_reconcile.engine import sections
from t4o_reconcile.engine.plan import Action
from t4o_reconcile.engine.snapshot import SafetyOptions, TenantSnapshot


def delete_reasons(
    actions: Sequence[Action],
    want: TenantSnapshot,
    have: TenantSnapshot | None,
    options: SafetyOptions,
) -> list[str]:
    """Why this tenant's deletes need the flag; empty when they do not. Decommissioning
    a client needs it whatever it deletes: it ends the client's invoicing and access."""
    decommissioning = [
        f"decommissions the client (lifecycle: decommissioned): {len(actions)} change(s)"
        " end its invoicing, integrations and users' access"
    ]
    reasons = decommissioning if want.lifecycle == "decommissioned" and actions else []
    deletes = [a for a in actions if a.kind == "delete"]
    if not deletes:
        return reasons
    reasons += [
        f"deletes {declared.noun} {a.key}"
        for a in deletes
        if (declared := sections.REGISTRY.get(a.section)) is not None and declared.deletes_need_flag
    ]
    managed = managed_item_count(want, have)
    share = len(deletes) / managed if managed else 1.0
    if len(deletes) >= options.min_delete_items and share > options.max_delete_share:
        reasons.append(
            f"deletes {len(deletes)} of {managed} managed items"
            f" (more than {options.max_delete_share:.0%})"
        )
    return reasons


def managed_item_count(want: TenantSnapshot, have: TenantSnapshot | None) -> int:
    """Live items in the sections the configuration manages."""
    if have is None:
        return 0
    return sum(len(have.sections.get(section, {})) for section in want.sections)
