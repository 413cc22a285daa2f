"""The order apply runs actions in, following the API's rules.

- Agreements are created (and updated) before any tenant moves into one, and deleted
  only after every tenant has moved out.
- Within a tenant: the tenant itself, then its agreement move, then its sections.
- Bank accounts: creates, then updates that set a radio flag true, then other updates,
  then deletes: the new invoice account takes the flag before the old one is deleted.
- Users: first what frees a licence (a user losing every program right, or deleted while
  holding one), then invitations (creates), updates and program grants, then deletes:
  licences are counted on every grant, so the freed ones must be free by then.
- Billing: raising licences or giving program access comes before the users it lets in;
  lowering licences or taking program access away comes after the users that let it go.
- Email templates need a user holding the custom invoice e-mail right when written: they
  come after the users, so a grant of that right is made first.
- Whole-tenant deletes come after every other tenant action.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


def _holds_right(fields: dict[str, Any] | None) -> bool:
    programs = (fields or {}).get("programs")
    return isinstance(programs, dict) and any(r not in (None, "none") for r in programs.values())


def frees_licence(action: Action) -> bool:
    """A user action after which the user no longer takes a licence."""
    if action.section != "users" or not _holds_right(action.before):
        return False
    if action.kind == "delete":
        return True
    return (
        action.kind == "update"
        and "programs" in (action.after or {})
        and not (_holds_right(action.after))
    )


def narrows_billing(action: Action) -> bool:
    """A billing update that lowers licences or takes program access away."""
    if action.section != "billing" or action.kind != "update":
        return False
    before, after = action.before or {}, action.after or {}
    if after.get("program_access") is False and before.get("program_access") is not False:
        return True
    old, new = before.get("licenses"), after.get("licenses")
    return isinstance(old, int) and isinstance(new, int) and new < old


def _tenant_key(action: Action) -> tuple[int, int]:
    # The tenant itself, then the sections in the registry's order (the membership first);
    # licences are freed before they are taken (see the module's docstring).
    if action.section == WHOLE_TENANT:
        return -1, _kind_rank(action)
    users = sections.RANK.get("users", len(sections.RANK))
    if frees_licence(action):
        return users, -1
    if narrows_billing(action):
        return users, len(_KIND_RANK) + 1
    return sections.RANK.get(action.section, len(sections.RANK)), _kind_rank(action)


def sort_tenant_actions(actions: Iterable[Action]) -> list[Action]:
    """One tenant's actions in apply order; stable, so the diff's order breaks ties."""
    return sorted(actions, key=_tenant_key)


def sort_agreement_actions(actions: Iterable[Action]) -> list[Action]:
    return sorted(actions, key=_kind_rank)


def is_tenant_delete(action: Action) -> bool:
    return action.section == WHOLE_TENANT and action.kind == "delete"


def flatten(plan: Plan) -> list[Action]:
    """Every action of the plan in the order apply runs them.

    ``make_plan`` sorts each tenant's actions with the functions above, so every output
    shows them in apply order; apply sorts again here, so that a plan file written by
    another version (or by hand) still runs in the API's order.
    """
    agreements = sort_agreement_actions(plan.agreement_actions)
    out = [a for a in agreements if a.kind != "delete"]
    tenant_deletes: list[Action] = []
    for tenant in plan.tenants:
        for action in sort_tenant_actions(tenant.actions):
            (tenant_deletes if is_tenant_delete(action) else out).append(action)
    out.extend(tenant_deletes)
    out.extend(a for a in agreements if a.kind == "delete" and a.section == AGREEMENTS)
    return out
