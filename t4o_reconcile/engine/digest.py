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
    TenantSnapshot,
    UnreadSecret,
    UnresolvedSecret,
)

# For callers that plan in-process without a target's credentials (tests, benchmarks):
# public, so such a digest protects nothing. The CLI always passes a secret key.
UNKEYED = b"t4o-reconcile/config-digest/unkeyed"


def config_digest(desired: Snapshot, key: bytes = UNKEYED, *, references_only: bool = False) -> str:
    """``sha256:<hex>`` of the desired snapshot (see ``ConfigDigest``)."""
    digest = ConfigDigest(key, references_only=references_only)
    for tenant in desired.tenants.values():
        digest.add(tenant)
    return digest.hexdigest(desired.agreements)


class ConfigDigest:
    """A digest of the desired configuration, fed a tenant at a time in any order.

    Each tenant enters as the SHA-256 of a canonical JSON of ``{slug: tenant}``, each
    secret value as HMAC-SHA256(``key``, value); the digest is the SHA-256 of the
    agreements' canonical JSON and the tenants' hashes in slug order. Only 32 bytes a
    tenant are held. With ``references_only`` a secret enters as its reference
    (``env:NAME``), not its value: the digest of a plan made without secret values,
    compared at merge time."""

    def __init__(
        self,
        key: bytes = UNKEYED,
        *,
        references_only: bool = False,
        only: frozenset[str] | None = None,
    ) -> None:
        self._key = key
        self._references_only = references_only
        self._only = only  # the tenants it covers (None: every tenant added)
        self._tenants: dict[str, bytes] = {}

    def _dump(self, value: Any) -> bytes:
        return json.dumps(
            value,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            default=_reference if self._references_only else self._keyed,
        ).encode()

    def _keyed(self, value: object) -> Any:
        if isinstance(value, Secret):
            return {"secret": hmac.new(self._key, value.value.encode(), "sha256").hexdigest()}
        return _secret(value)

    def add(self, tenant: TenantSnapshot) -> None:
        if self._only is not None and tenant.slug not in self._only:
            return
        document: dict[str, object] = {
            "sections": {
                section: _items(items) for section, items in sorted(tenant.sections.items())
            },
            "safety": None
            if tenant.safety is None
            else [tenant.safety.max_delete_share, tenant.safety.min_delete_items],
        }
        if tenant.lifecycle is not None:  # it decides the plan's approval
            document["lifecycle"] = tenant.lifecycle
        entry = self._dump(tenant.slug) + b":" + self._dump(document)
        self._tenants[tenant.slug] = hashlib.sha256(entry).digest()

    def hexdigest(self, agreements: dict[str, Item] | None) -> str:
        digest = hashlib.sha256()
        digest.update(self._dump(None if agreements is None else _items(agreements)))
        for slug in sorted(self._tenants):
            digest.update(self._tenants[slug])
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
        return {"stored": value.source}
    raise TypeError(f"cannot digest a value of type {type(value).__name__}")
