"""Does a plan made now do exactly what a reviewed plan showed?

The pull-request job plans with a read-only token and without secret values; the merge
job plans again on the merged commit, with the secrets and a token that can write, and
applies that plan only if it matches the reviewed one: same target and identity, the
same configuration (secrets compared by reference), every resource the review read at
the same version, the same actions, and the same approval of deletes. A change the
review could not see (a secret it did not compare) is the only difference allowed.
"""

from __future__ import annotations

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


def _action_differences(reviewed: Plan, fresh: Plan, uncompared: set[str]) -> list[str]:
    # One tenant's actions unpacked at a time (iter_flat): only their shapes are kept.
    seen = {_shape(a) for a in iter_flat(reviewed)}
    now = {_shape(a) for a in iter_flat(fresh)}
    problems = []
    for address, kind, paths in sorted(now - seen):
        unseen_secret_only = kind == "update" and all(
            f"{address}.{path}" in uncompared for path in paths
        )
        if not unseen_secret_only:
            problems.append(DIFFERS + f"{kind} {address} was not in it")
    problems.extend(
        DIFFERS + f"{kind} {address} is no longer planned"
        for address, kind, _ in sorted(seen - now)
    )
    return problems
