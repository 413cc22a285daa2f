"""Sensitive changes: a secret sent somewhere else while it stays the same.

A tenant file that keeps a tenant's SMTP password and changes the host it is sent to (or
the port, or the user name it logs in as) makes the system hand that password to
whoever runs the new host. Such a change needs the same approval as a delete
(``--allow-deletes``), and every plan format shows why, as it shows a guarded delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from t4o_reconcile.engine import sections
from t4o_reconcile.engine.plan import Action


def redirected_secrets(actions: Sequence[Action]) -> list[str]:
    """Why these actions are sensitive changes; empty when none is."""
    reasons: list[str] = []
    for action in actions:
        declared = sections.REGISTRY.get(action.section)
        if action.kind != "update" or declared is None or not declared.destination_fields:
            continue
        changed = set(action.changed_paths)
        moved = [name for name in declared.destination_fields if name in changed]
        if not moved or any(name in changed for name in declared.secret_fields):
            continue  # nothing moves, or a new secret goes with the new destination
        secrets = " and ".join(declared.secret_fields)
        where = ", ".join(
            f"{name}: {_shown(action.before, name)} → {_shown(action.after, name)}"
            for name in moved
        )
        reasons.append(
            f"sensitive change: the {declared.noun}'s unchanged {secrets} would be sent to a"
            f" new destination ({where})"
        )
    return reasons


def _shown(fields: dict[str, Any] | None, name: str) -> str:
    value = (fields or {}).get(name)
    return "none" if value is None else str(value)
