"""Which actions are sensitive changes a reviewer must not miss: bank accounts (where the
money goes), user rights (who can act for the client) and the SMTP account (where its
password is sent). The section registry says which fields (``callout_fields``); every
plan format shows these actions first, before the per-tenant details."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from t4o_reconcile.engine import sections
from t4o_reconcile.engine.plan import Action


def called_out_paths(action: Action) -> tuple[str, ...] | None:
    """The changed fields that make ``action`` a sensitive change (every field of a create
    or delete: ``()``); None when it is not one."""
    declared = sections.REGISTRY.get(action.section)
    if declared is None or not declared.callout_fields:
        return None
    if action.kind in ("create", "delete"):
        return ()
    watched = set(declared.callout_fields)
    paths = tuple(p for p in action.changed_paths if p.split(".", 1)[0] in watched)
    return paths or None


def called_out(actions: Iterable[Action]) -> Iterator[Action]:
    return (action for action in actions if called_out_paths(action) is not None)
