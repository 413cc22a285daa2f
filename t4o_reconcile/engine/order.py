"""The order apply runs actions in, following the API's rules.

- Agreements are created (and updated) before any tenant moves into one, and deleted
  only after every tenant has moved out.
- Within a tenant: the tenant itself, then its agreement move, then its sections.
- Bank accounts: creates, then updates that set a radio flag true, then other updates,
  then deletes: the new invoice account takes the flag before the old one is deleted.
- Users: invitations (creates) before updates and program grants, then deletes.
- Whole-tenant deletes come after every other tenant action.
"""

from __future__ import annotations

from collections.abc import Iterable

from t4o_reconcile.engine import sections
from t4o_reconcile.engine.plan import AGREEMENTS, WHOLE_TENANT, Action, Plan

_KIND_RANK = {"create": 0, "move": 1, "update": 2, "delete": 4}


def _kind_rank(action: Action) -> int:
    if action.kind == "update":
        declared = sections.REGISTRY.get(action.section)
        after = action.after or {}
        if declared is not None and any(after.get(flag) is True for flag in declared.radio_flags):
            return 1
    return _KIND_RANK[action.kind]


def _tenant_key(action: Action) -> tuple[int, int]:
    # The tenant itself, then the sections in the registry's order (the membership first).
    if action.section == WHOLE_TENANT:
        return -1, _kind_rank(action)
    return sections.RANK.get(action.section, len(sections.RANK)), _kind_rank(action)


def sort_tenant_actions(actions: Iterable[Action]) -> list[Action]:
    """One tenant's actions in apply order; stable, so the diff's order breaks ties."""
    return sorted(actions, key=_tenant_key)


def sort_agreement_actions(actions: Iterable[Action]) -> list[Action]:
    return sorted(actions, key=_kind_rank)


def is_tenant_delete(action: Action) -> bool:
    return action.section == WHOLE_TENANT and action.kind == "delete"


def flatten(plan: Plan) -> list[Action]:
    """Every action of the plan in the order apply runs them."""
    agreements = sort_agreement_actions(plan.agreement_actions)
    out = [a for a in agreements if a.kind != "delete"]
    tenant_deletes: list[Action] = []
    for tenant in plan.tenants:
        for action in sort_tenant_actions(tenant.actions):
            (tenant_deletes if is_tenant_delete(action) else out).append(action)
    out.extend(tenant_deletes)
    out.extend(a for a in agreements if a.kind == "delete" and a.section == AGREEMENTS)
    return out
