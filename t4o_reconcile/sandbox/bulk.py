"""Bulk reads: whole tenant configurations, many per request, in two queries per page.

The stored JSON of each item is spliced into the answer as text instead of being parsed
and dumped again: a page of 100 tenants of ~40 items each is 4,000 rows, and this keeps
the read of 1,000 tenants well under a second.
"""

from __future__ import annotations

import json
from collections import defaultdict

from t4o_reconcile.sandbox.secrets import shown_text
from t4o_reconcile.sandbox.store import (
    BANK_ACCOUNTS,
    CONNECTIONS,
    EMAIL_ACCOUNT,
    EMAIL_TEMPLATES,
    INVOICING,
    MEMBERSHIP,
    USERS,
    Tx,
)

_LISTS = (CONNECTIONS, BANK_ACCOUNTS, USERS, EMAIL_TEMPLATES)


def _with_version(data: str, version: int) -> str:
    tail = f'"version":"{version}"}}'
    return "{" + tail if data == "{}" else data[:-1] + "," + tail


def tenant_configs(
    tx: Tx, *, after: str, limit: int, slugs: list[str] | None
) -> tuple[list[str], str, bool]:
    """(slugs of the page, JSON array text of their TenantConfig, whether more follow),
    ordered by slug."""
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    # One more than asked tells whether a next page exists, without a count query.
    tenants = tx.raw_tenant_page(tx.principal.partner, tx.principal.tenant, after, limit + 1, slugs)
    more = len(tenants) > limit
    tenants = tenants[:limit]
    page = [slug for slug, _, _ in tenants]
    # A stored secret is answered as its marker only, and to a read-only token without
    # even a personal number's last digits.
    read_only = tx.principal.read_only
    singles: dict[str, dict[str, str]] = defaultdict(dict)
    lists: dict[str, dict[str, list[str]]] = defaultdict(lambda: {s: [] for s in _LISTS})
    for slug, section, _key, data, version in tx.raw_resources_of(page):
        item = _with_version(shown_text(data, read_only), version)
        if section in _LISTS:
            lists[slug][section].append(item)
        else:
            singles[slug][section] = item
    parts = []
    for slug, data, version in tenants:
        one = singles[slug]
        many = lists[slug]
        parts.append(
            '{"slug":'
            + json.dumps(slug)
            + ',"tenant":'
            + _with_version(shown_text(data, read_only), version)
            + ',"invoicing":'
            + one[INVOICING]
            + ',"email_account":'
            + one.get(EMAIL_ACCOUNT, "null")
            + "".join(f',"{section}":[' + ",".join(many[section]) + "]" for section in _LISTS)
            + ',"agreement":'
            + one[MEMBERSHIP]
            + "}"
        )
    return page, "[" + ",".join(parts) + "]", more
