"""A digest of the desired configuration, recorded in a saved plan.

Apply recomputes it from the configuration it loads and refuses a plan made from other
files. Each secret enters as an HMAC of its value under a key the plan file does not hold
(derived from the API token, see ``workflow.digest_key``): changing a secret changes the
digest, while someone who holds the plan file and the repository still cannot test a guess
of a secret against it, as they could with a fixed, public key.
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

# For callers that plan in-process without a target's credentials (tests, benchmarks):
# public, so such a digest protects nothing. The CLI always passes a secret key.
UNKEYED = b"t4o-reconcile/config-digest/unkeyed"


def config_digest(desired: Snapshot, key: bytes = UNKEYED, *, references_only: bool = False) -> str:
    """``sha256:<hex>`` over a canonical JSON of the desired snapshot; each secret value
    enters as HMAC-SHA256(``key``, value). With ``references_only`` a secret enters as its
    reference (``env:NAME``), not its value: the digest of a plan made without secret
    values, compared at merge time."""

    def secret(value: object) -> Any:
        if isinstance(value, Secret):
            return {"secret": hmac.new(key, value.value.encode(), "sha256").hexdigest()}
        return _secret(value)

    # Hashed a tenant at a time: the bytes are those of one json.dumps(..., sort_keys=True)
    # of {"agreements": ..., "tenants": {slug: ...}}, never built whole.
    def dump(value: Any) -> bytes:
        return json.dumps(
            value,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=_reference if references_only else secret,
        ).encode()

    digest = hashlib.sha256()
    agreements = None if desired.agreements is None else _items(desired.agreements)
    digest.update(b'{"agreements":' + dump(agreements) + b',"tenants":{')
    for position, slug in enumerate(sorted(desired.tenants)):
        tenant = desired.tenants[slug]
        document = {
            "sections": {
                section: _items(items) for section, items in sorted(tenant.sections.items())
            },
            "safety": None
            if tenant.safety is None
            else [tenant.safety.max_delete_share, tenant.safety.min_delete_items],
        }
        digest.update((b"," if position else b"") + dump(slug) + b":" + dump(document))
    digest.update(b"}}")
    return "sha256:" + digest.hexdigest()


def _items(items: dict[str, Item]) -> dict[str, Any]:
    return {key: item.fields for key, item in items.items()}


def _reference(value: object) -> Any:
    source = getattr(value, "source", None)
    if isinstance(source, str):
        return {"ref": source}
    return _secret(value)


def _secret(value: object) -> Any:
    if isinstance(value, UnresolvedSecret):
        return {"unresolved": value.source}
    if isinstance(value, UnreadSecret):
        return {"unread": value.source}
    if isinstance(value, Fingerprint):
        return {"fingerprint": [value.salt, value.hash]}
    raise TypeError(f"cannot digest a value of type {type(value).__name__}")
