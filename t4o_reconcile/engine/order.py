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
- Email templates and a change of the tenant's language (``invoicing.language``) keep
  the order ``order_templates`` gives them, which never leaves a template kind without a
  template in the tenant's language: templates of removed kinds are deleted first (the
  others before the one in the old language), then templates of kinds the tenant
  already has are created, then the language changes, then templates of new kinds are
  created (the one in the tenant's language first), updated, and the rest deleted (the
  one in the tenant's language last).
- Whole-tenant deletes come after every other tenant action.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from t4o_reconcile.engine import sections
from t4o_reconcile.engine.plan import AGREEMENTS, WHOLE_TENANT, Action, Plan
from t4o_reconcile.engine.planstore import TenantStore
from t4o_reconcile.engine.sections import holds_program_right

_KIND_RANK = {"create": 0, "move": 1, "update": 2, "delete": 4}


def _kind_rank(action: Action) -> int:
    if action.kind == "update":
        declared = sections.REGISTRY.get(action.section)
        after = action.after or {}
        if declared is not None and any(after.get(flag) is True for flag in declared.radio_flags):
            return 1
    return _KIND_RANK[action.kind]


def frees_licence(action: Action) -> bool:
    """A user action after which the user no longer takes a licence."""
    if action.section != _USERS or not holds_program_right((action.before or {}).get("programs")):
        return False
    if action.kind == "delete":
        return True
    return (
        action.kind == "update"
        and "programs" in (action.after or {})
        and not holds_program_right((action.after or {}).get("programs"))
    )


def narrows_billing(action: Action) -> bool:
    """A billing update that lowers licences or takes program access away."""
    if action.section != sections.Billing.name or action.kind != "update":
        return False
    before, after = action.before or {}, action.after or {}
    if after.get("program_access") is False and before.get("program_access") is not False:
        return True
    old, new = before.get("licenses"), after.get("licenses")
    return isinstance(old, int) and isinstance(new, int) and new < old


TEMPLATES = sections.EmailTemplates.name
_USERS = sections.Users.name


def is_language_switch(action: Action) -> bool:
    return (
        action.section == sections.Invoicing.name
        and action.kind == "update"
        and "language" in (action.after or {})
    )


def _tenant_key(action: Action) -> tuple[int, int]:
    # The tenant itself, then the sections in the registry's order (the membership first);
    # licences are freed before they are taken (see the module's docstring).
    if action.section == WHOLE_TENANT:
        return -1, _kind_rank(action)
    if action.section == TEMPLATES or is_language_switch(action):
        # One group in the order order_templates gave it (a stable sort keeps it).
        return sections.RANK[TEMPLATES], 0
    users = sections.RANK.get(_USERS, len(sections.RANK))
    if frees_licence(action):
        return users, -1
    if narrows_billing(action):
        return users, len(_KIND_RANK) + 1
    return sections.RANK.get(action.section, len(sections.RANK)), _kind_rank(action)


def sort_tenant_actions(actions: Iterable[Action]) -> list[Action]:
    """One tenant's actions in apply order; stable, so the diff's order breaks ties."""
    return sorted(actions, key=_tenant_key)


def order_templates(
    actions: list[Action],
    language: str,
    old_language: str | None,
    live_kinds: set[str],
    kinds: set[str],
) -> list[Action]:
    """A tenant's sorted actions with its templates and language switch in an order the
    API accepts at every step (see the module's docstring). ``language`` is the tenant's
    language after the plan, ``old_language`` the live one (None for a new tenant),
    ``live_kinds`` the template kinds live has and ``kinds`` those the plan keeps."""
    group = [a for a in actions if _tenant_key(a) == (sections.RANK[TEMPLATES], 0)]
    if not group:
        return actions

    def field(action: Action, name: str) -> str:
        return str((action.after or action.before or {}).get(name))

    def steps(action: Action) -> tuple[int, int]:
        if is_language_switch(action):
            return 2, 0
        kind, in_language = field(action, "kind"), field(action, "language")
        if action.kind == "delete":
            if kind not in kinds:
                return 0, int(in_language == old_language)
            return 5, int(in_language == language)
        if action.kind == "create":
            return (1 if kind in live_kinds else 3), int(in_language != language)
        return 4, 0

    members = {id(a) for a in group}
    ordered = iter(sorted(group, key=steps))
    return [next(ordered) if id(a) in members else a for a in actions]


def sort_agreement_actions(actions: Iterable[Action]) -> list[Action]:
    return sorted(actions, key=_kind_rank)


def is_tenant_delete(action: Action) -> bool:
    return action.section == WHOLE_TENANT and action.kind == "delete"


def iter_flat(plan: Plan) -> Iterator[Action]:
    """Every action of the plan in the order apply runs them, one by one (a tenant on disk
    is read only in turn). ``make_plan`` sorts each tenant's actions already, so every
    output shows them in apply order; this sorts again, so that a plan file written by
    another version still runs in the API's order."""
    return iter(schedule(plan))


def agreement_phases(plan: Plan) -> tuple[list[Action], list[Action]]:
    """The agreement actions apply runs before every tenant (creates, updates) and after
    them all (deletes: their tenants must have moved out first)."""
    agreements = sort_agreement_actions(plan.agreement_actions)
    first = [a for a in agreements if a.kind != "delete"]
    last = [a for a in agreements if a.kind == "delete" and a.section == AGREEMENTS]
    return first, last


@dataclass(slots=True)
class Schedule:
    """The plan's actions split into the phases apply runs, in order. A tenant the plan
    keeps on disk (``TenantStore``) is scheduled by its slug alone (None) and read only
    when it runs."""

    agreements_first: list[Action]
    tenants: dict[str, list[Action] | None]
    tenant_deletes: list[Action]
    agreements_last: list[Action]
    store: TenantStore | None = None
    total: int = 0  # every action of every phase

    def tenant_actions(self, slug: str) -> list[Action]:
        """A scheduled tenant's actions, in apply order."""
        held = self.tenants[slug]
        if held is not None:
            return held
        tenant = self.store.get(slug) if self.store is not None else None
        return [] if tenant is None else sort_tenant_actions(tenant.actions)

    def __iter__(self) -> Iterator[Action]:
        """Every action in the order apply runs them; a tenant on disk is read in turn."""
        yield from self.agreements_first
        for slug in self.tenants:
            yield from self.tenant_actions(slug)
        yield from self.tenant_deletes
        yield from self.agreements_last


def schedule(plan: Plan) -> Schedule:
    """Split the plan's actions into apply's phases, keeping each tenant's actions and
    the agreement actions in the order the engine gave them."""
    first, agreement_deletes = agreement_phases(plan)
    # A tenant's actions that name no tenant (only a hand-made plan has them) run with the
    # agreements, as they always did.
    last: list[Action] = []
    tenants: dict[str, list[Action] | None] = {}
    tenant_deletes: list[Action] = []
    store = plan.tenants
    deferred = 0  # the actions of the tenants left on disk
    for position, slug in enumerate(store.slugs()):
        if store.spilled_at(position) and not store.deletes(position):
            # Its line holds only its own actions (the planner's, or checked by
            # ``planfile``): left on disk until it runs.
            tenants[slug] = None
            deferred += store.size(position)
            continue
        for action in sort_tenant_actions(store[position].actions):
            if action.tenant is None:
                (last if action.kind == "delete" else first).append(action)
            elif is_tenant_delete(action):
                tenant_deletes.append(action)
            else:
                held = tenants.setdefault(action.tenant, [])
                if held is not None:
                    held.append(action)
    agreements_last = last + agreement_deletes
    total = len(first) + len(tenant_deletes) + len(agreements_last) + deferred
    total += sum(len(held) for held in tenants.values() if held is not None)
    return Schedule(first, tenants, tenant_deletes, agreements_last, store, total)
