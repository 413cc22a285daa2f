"""A digest of the desired configuration, recorded in a saved plan.

Apply recomputes it from the configuration it loads and refuses a plan made from other
files. Each secret enters as an HMAC of its value under a fixed label, so changing an
environment variable changes the digest while the digest never reveals the value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from t4o_reconcile.engine.snapshot import (
    Fingerprint,
    Item,
    Secret,
    Snapshot,
    UnreadSecret,
    UnresolvedSecret,
)

_SECRET_LABEL = b"t4o-reconcile/config-digest/secret/v1"


def config_digest(desired: Snapshot, *, references_only: bool = False) -> str:
    """``sha256:<hex>`` over a canonical JSON of the desired snapshot. With
    ``references_only`` a secret enters as its reference (``env:NAME``), not its value:
    the digest of a plan made without secret values, compared at merge time."""
    document = {
        "tenants": {
            slug: {
                "sections": {
                    section: _items(items) for section, items in sorted(tenant.sections.items())
                },
                "safety": None
                if tenant.safety is None
                else [tenant.safety.max_delete_share, tenant.safety.min_delete_items],
            }
            for slug, tenant in sorted(desired.tenants.items())
        },
        "agreements": None if desired.agreements is None else _items(desired.agreements),
    }
    canonical = json.dumps(
        document,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=_reference if references_only else _secret,
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _items(items: dict[str, Item]) -> dict[str, Any]:
    return {key: item.fields for key, item in items.items()}


def _reference(value: object) -> Any:
    source = getattr(value, "source", None)
    if isinstance(source, str):
        return {"ref": source}
    return _secret(value)


def _secret(value: object) -> Any:
    if isinstance(value, Secret):
        return {"secret": hmac.new(_SECRET_LABEL, value.value.encode(), "sha256").hexdigest()}
    if isinstance(value, UnresolvedSecret):
        return {"unresolved": value.source}
    if isinstance(value, UnreadSecret):
        return {"unread": value.source}
    if isinstance(value, Fingerprint):
        return {"fingerprint": [value.salt, value.hash]}
    raise TypeError(f"cannot digest a value of type {type(value).__name__}")
