"""Drift attribution: which live change made a resource differ from the configuration,
and who made it.

A plan shows that a value differs; the audit log says who wrote the live value. For each
action on a resource that exists (or existed) live, the newest logged change of that
resource that touched what the action changes is the one that made it differ. When this
tool wrote it (an apply), the difference comes from the configuration having changed
since: no drift. Otherwise the action undoes a change made outside the tool, and the plan
names who made it and when.

Pure: the changes arrive as ``LiveChange``s, already read and converted to the engine's
fields by the provider, newest first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from t4o_reconcile.engine.compare import field_at
from t4o_reconcile.engine.plan import WHOLE_TENANT, Action, Attribution, TenantPlan


@dataclass(frozen=True, slots=True)
class LiveChange:
    """One logged write of one resource of a tenant, in the engine's terms: fields as the
    snapshot has them (a secret as the log's mask, e.g. "(sensitive, replaced)")."""

    section: str
    key: str
    change: str  # create, update, delete, move
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    at: str
    actor: str
    token: str | None
    client: str | None
    entry: int
    by_tool: bool  # written by t4o-reconcile (apply)

    def attribution(self) -> Attribution:
        return Attribution(
            at=self.at,
            actor=self.actor,
            token=self.token,
            client=self.client,
            change=self.change,
            entry=self.entry,
        )


Wanted = dict[tuple[str, str], tuple[str, ...]]


def wanted(tenant: TenantPlan) -> Wanted:
    """(section, key) → the paths whose last live change matters, for every action that
    may undo a live change: updates and moves (their changed paths), deletes (the item
    was made live: any change) and creates of an item (it was deleted live)."""
    found: Wanted = {}
    for action in tenant.actions:
        if action.section == WHOLE_TENANT:
            continue  # a new tenant has no history; an unmanaged one is not drift
        paths = tuple(action.changed_paths) if action.kind in ("update", "move") else ()
        found[(action.section, action.key)] = paths
    return found


def touches(change: LiveChange, paths: tuple[str, ...]) -> bool:
    """Whether ``change`` wrote any of ``paths`` (no paths: any write of the resource)."""
    if not paths or change.before is None or change.after is None:
        return True
    return any(field_at(change.before, p) != field_at(change.after, p) for p in paths)


def attribute(tenant: TenantPlan, changes: Iterable[LiveChange]) -> tuple[TenantPlan, int]:
    """``tenant`` with ``drift`` set on each action that undoes a change made outside
    this tool, from ``changes`` (newest first), and how many were set."""
    want = wanted(tenant)
    newest: dict[tuple[str, str], LiveChange] = {}
    for change in changes:
        where = (change.section, change.key)
        if where in want and where not in newest and touches(change, want[where]):
            newest[where] = change
    count = 0
    actions: list[Action] = []
    for action in tenant.actions:
        found = newest.get((action.section, action.key))
        if found is None or found.by_tool or not _explains(action, found):
            actions.append(action)
            continue
        actions.append(replace(action, drift=found.attribution()))
        count += 1
    return (replace(tenant, actions=tuple(actions)) if count else tenant), count


def _explains(action: Action, change: LiveChange) -> bool:
    """A create undoes a live delete, a delete undoes a live create (or a change of the
    item since), an update or move undoes a live write."""
    if action.kind == "create":
        return change.change == "delete"
    return change.change != "delete"
