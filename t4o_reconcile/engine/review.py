"""Does a plan made now do exactly what a reviewed plan showed?

The pull-request job plans with a read-only token and without secret values; the merge
job plans again on the merged commit, with the secrets and a token that can write, and
applies that plan only if it matches the reviewed one: same target and identity, the
same configuration (secrets compared by reference), every resource the review read at
the same version, the same actions, and the same approval of deletes. A change the
review could not see (a secret it did not compare) is the only difference allowed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from t4o_reconcile.engine.order import iter_flat
from t4o_reconcile.engine.plan import Action, Plan
from t4o_reconcile.engine.stale import STALE, check_stale

DIFFERS = "the plan differs from the reviewed plan: "


def check_reviewed(reviewed: Plan, fresh: Plan, *, uncompared: set[str] | None = None) -> list[str]:
    """Why ``fresh`` is not what ``reviewed`` showed; empty when it is. ``uncompared``
    holds the ``address.field`` of secrets the review did not compare."""
    problems: list[str] = []
    if reviewed.endpoint != fresh.endpoint or reviewed.identity != fresh.identity:
        problems.append(
            DIFFERS + f"it was made for {reviewed.endpoint} as {reviewed.identity},"
            f" this is {fresh.endpoint} as {fresh.identity}"
        )
    if reviewed.reference_digest != fresh.reference_digest:
        problems.append(DIFFERS + "the configuration changed since the review")
    # Versions only: the value digest cannot match a review made without secret values.
    problems.extend(
        p.replace(STALE, DIFFERS) for p in check_stale(reviewed, fresh, reviewed.config_digest)
    )
    problems.extend(_action_differences(reviewed, fresh, uncompared or set()))
    if reviewed.delete_unmanaged != fresh.delete_unmanaged:
        problems.append(DIFFERS + "--delete-unmanaged differs")
    return problems


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
    """The two plans' actions, the agreements' and then a tenant's at a time: a shape
    (its address names its tenant) can only match within its tenant, so comparing each
    tenant's is comparing the whole plans, with one tenant of each read at a time."""
    yield reviewed.agreement_actions, fresh.agreement_actions
    for tenant in reviewed.tenants:
        other = fresh.tenants.get(tenant.slug)
        yield tenant.actions, other.actions if other is not None else ()
    slugs = set(reviewed.tenants.slugs())
    for tenant in fresh.tenants:
        if tenant.slug not in slugs:
            yield (), tenant.actions
