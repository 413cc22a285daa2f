"""How secret values look outside memory: never their value.

Renderers show every secret as ``(sensitive)``, or ``(sensitive …34)`` when it has a hint
(a personal number's last two digits: enough to recognise it); the plan file keeps only
where a secret came from (``{"sensitive": true, "source": "env:NAME", "hint": "…34"}``)
and loading it gives back a ``SavedSecret`` marker, so apply re-resolves the value from
the configuration it has verified by digest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from t4o_reconcile.engine.snapshot import Fingerprint, Secret, UnreadSecret, UnresolvedSecret

SENSITIVE = "(sensitive)"


@dataclass(frozen=True, slots=True)
class SavedSecret:
    """A secret read back from a plan file: only the reference it came from."""

    source: str
    hint: str = ""

    def __repr__(self) -> str:
        return f"SavedSecret({self.source or 'sensitive'})"


def is_sensitive(value: object) -> bool:
    return isinstance(value, Secret | Fingerprint | UnresolvedSecret | UnreadSecret | SavedSecret)


def hint_of(value: object) -> str:
    hint = getattr(value, "hint", "")
    return hint if isinstance(hint, str) else ""


def mask(value: object) -> str:
    hint = hint_of(value)
    return f"(sensitive {hint})" if hint else SENSITIVE


def as_plan_file(value: object) -> dict[str, Any]:
    sourced = Secret | UnresolvedSecret | UnreadSecret | SavedSecret | Fingerprint
    source = value.source if isinstance(value, sourced) else ""
    saved: dict[str, Any] = {"sensitive": True, "source": source or None}
    if hint_of(value):
        saved["hint"] = hint_of(value)
    return saved


def reference(value: object) -> str | None:
    """Where a secret value came from (``env:NAME``), when known; never the value."""
    source = getattr(value, "source", None) if is_sensitive(value) else None
    return source if isinstance(source, str) and source else None


def from_plan_file(value: dict[str, Any]) -> SavedSecret:
    return SavedSecret(source=value.get("source") or "", hint=value.get("hint") or "")


def is_plan_file_secret(value: object) -> bool:
    return (
        isinstance(value, dict)
        and value.get("sensitive") is True
        and set(value) <= {"sensitive", "source", "hint"}
    )


def to_json(value: Any, secret: Callable[[object], Any] = mask) -> Any:
    """A JSON-ready copy of ``value`` in which every secret is replaced by ``secret(it)``."""
    if isinstance(value, dict):
        return {str(k): to_json(v, secret) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v, secret) for v in value]
    if is_sensitive(value):
        return secret(value)
    return value


def from_json(value: Any) -> Any:
    if is_plan_file_secret(value):
        return from_plan_file(value)
    if isinstance(value, dict):
        return {k: from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_json(v) for v in value]
    return value
