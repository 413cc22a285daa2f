"""Does a plan made now do exactly what a reviewed plan showed?

The pull-request job plans with a read-only token and without secret values; the merge
job plans again on the merged commit, with the secrets and a token that can write, and
applies that plan only if it matches the reviewed one: same target and identity, the
same configuration (secrets compared by reference), the same actions, each changing the
same fields from the same values to the same values, and the same approval of deletes. A
change the review could not see (a secret it did not compare) is the only difference
allowed. A resource whose version moved since the review (an invoice moves a counter, a
colleague edits another field) refuses nothing when the plan does there exactly what the
review showed; apply's If-Match still guards the write against the version read now.

A scoped review (``plan --changed-since``) covered its tenants, and the agreements when
it planned them: the comparison is strict inside that scope and blind outside it (a live
change elsewhere belongs to the drift job). What the merge brings beyond the scope is
planned too and refused only when it changes something nobody reviewed
(``unreviewed``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from t4o_reconcile.engine.order import iter_flat
from t4o_reconcile.engine.plan import Action, Plan, kinds_of
from t4o_reconcile.engine.stale import STALE, agreement_differences

DIFFERS = "the plan differs from the reviewed plan: "


def check_reviewed(
    reviewed: Plan,
    fresh: Plan,
    *,
    uncompared: set[str] | None = None,
    reference_digest: str | None = None,
) -> list[str]:
    """Why ``fresh`` is not what ``reviewed`` showed within the reviewed scope; empty
    when it is. ``uncompared`` holds the ``address.field`` of secrets the review did not
    compare; ``reference_digest`` is the fresh configuration's reference digest over the
    reviewed scope (default: ``fresh``'s own, when both cover the same)."""
    problems: list[str] = []
    if reviewed.endpoint != fresh.endpoint or reviewed.identity != fresh.identity:
        problems.append(
            DIFFERS + f"it was made for {reviewed.endpoint} as {reviewed.identity},"
            f" this is {fresh.endpoint} as {fresh.identity}"
        )
    digest = fresh.reference_digest if reference_digest is None else reference_digest
    if reviewed.reference_digest != digest:
        problems.append(DIFFERS + "the configuration changed since the review")
    problems.extend(p.replace(STALE, DIFFERS) for p in agreement_differences(reviewed, fresh))
    problems.extend(_action_differences(reviewed, fresh, uncompared or set()))
    problems.extend(_moved_under_actions(reviewed, fresh))
    if reviewed.delete_unmanaged != fresh.delete_unmanaged:
        problems.append(DIFFERS + "--delete-unmanaged differs")
    return problems


def _moved_under_actions(reviewed: Plan, fresh: Plan) -> list[str]:
    """Resources that changed live since the review where the plan now changes them from
    other values than the review showed (the shapes are compared by
    ``_action_differences``; secrets, which the review did not read, are left out)."""
    problems: list[str] = []
    for tenant in reviewed.tenants:
        now = fresh.tenants.get(tenant.slug)
        if now is None:
            continue
        shown = {action.address: action for action in tenant.actions}
        for action in now.actions:
            was, is_now = tenant.versions.get(action.address), now.versions.get(action.address)
            old = shown.get(action.address)
            if was == is_now or old is None or _shape(old) != _shape(action):
                continue
            if _values(old) != _values(action):
                problems.append(
                    DIFFERS + f"{action.address} changed since the review (version {was} →"
                    f" {is_now}), and the plan would now change it from other values"
                )
    return problems


def _values(action: Action) -> dict[str, tuple[object, object]]:
    secret = set(action.sensitive_paths)
    return {
        path: (_at(action.before, path), _at(action.after, path))
        for path in action.changed_paths
        if path not in secret
    }


def _at(fields: dict[str, object] | None, path: str) -> object:
    value: object = fields
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def reviewed_scope(reviewed: Plan) -> set[str] | None:
    """The tenants a reviewed plan covered (None: every tenant)."""
    if reviewed.only is None:
        return None
    return set(reviewed.only) | set(reviewed.leaving)


def unreviewed(reviewed: Plan, fresh: Plan) -> list[str]:
    """What ``fresh`` changes outside the reviewed scope, one entry per tenant (``slug
    (N to create, …)``) and ``the agreements (…)``: changes the merge brought that no
    reviewed plan showed. A tenant that only leaves management (its file deleted, nothing
    written) is shown by the plan and not refused."""
    scope = reviewed_scope(reviewed)
    found: list[str] = []
    if not reviewed.agreements_in_scope:
        seen = {_shape(a) for a in reviewed.agreement_actions}
        extra = [a for a in fresh.agreement_actions if _shape(a) not in seen]
        if extra:
            found.append(f"the agreements ({_counted(extra)})")
    if scope is None:
        return found
    for tenant in fresh.tenants:
        if tenant.slug not in scope and tenant.actions:
            found.append(f"{tenant.slug} ({_counted(tenant.actions)})")
    return found


def _counted(actions: Sequence[Action]) -> str:
    counts = kinds_of(actions)
    verbs = {"create": "to create", "update": "to change", "delete": "to delete", "move": "to move"}
    return ", ".join(f"{n} {verbs[kind]}" for kind, n in counts.items() if n)


def _shape(action: Action) -> tuple[str, str, tuple[str, ...]]:
    return (action.address, action.kind, tuple(action.changed_paths))


def same_actions(saved: Plan, fresh: Plan) -> bool:
    """Whether both plans hold the same actions (address, kind, changed fields) in the
    same order (apply --plan); compared a tenant at a time, never holding every action of
    either."""
    for one, other in itertools.zip_longest(iter_flat(saved), iter_flat(fresh)):
        if one is None or other is None or _shape(one) != _shape(other):
            return False
    return True


def _action_differences(reviewed: Plan, fresh: Plan, uncompared: set[str]) -> list[str]:
    added: list[tuple[str, str, tuple[str, ...]]] = []
    dropped: list[tuple[str, str, tuple[str, ...]]] = []
    for old, new in _side_by_side(reviewed, fresh):
        seen = {_shape(a) for a in old}
        now = {_shape(a) for a in new}
        added.extend(now - seen)
        dropped.extend(seen - now)
    problems = []
    for address, kind, paths in sorted(added):
        unseen_secret_only = kind == "update" and all(
            f"{address}.{path}" in uncompared for path in paths
        )
        if not unseen_secret_only:
            problems.append(DIFFERS + f"{kind} {address} was not in it")
    problems.extend(
        DIFFERS + f"{kind} {address} is no longer planned" for address, kind, _ in sorted(dropped)
    )
    return problems


def _side_by_side(
    reviewed: Plan, fresh: Plan
) -> Iterator[tuple[Sequence[Action], Sequence[Action]]]:
    """The two plans' actions, the agreements' and then a tenant's at a time, within the
    reviewed scope (``unreviewed`` says what lies outside it): a shape (its address names
    its tenant) can only match within its tenant, so comparing each tenant's is
    comparing the whole plans, with one tenant of each read at a time."""
    if reviewed.agreements_in_scope:
        yield reviewed.agreement_actions, fresh.agreement_actions
    else:  # only the creates its tenants needed: those must still be planned
        seen = {_shape(r) for r in reviewed.agreement_actions}
        yield reviewed.agreement_actions, [a for a in fresh.agreement_actions if _shape(a) in seen]
    for tenant in reviewed.tenants:
        other = fresh.tenants.get(tenant.slug)
        yield tenant.actions, other.actions if other is not None else ()
    scope = reviewed_scope(reviewed)
    if scope is not None:
        return
    slugs = set(reviewed.tenants.slugs())
    for tenant in fresh.tenants:
        if tenant.slug not in slugs:
            yield (), tenant.actions
