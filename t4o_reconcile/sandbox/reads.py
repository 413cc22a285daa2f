"""The sandbox's list reads as plain functions: the answers of ``GET /v1/whoami``,
``/v1/vocabulary``, ``/v1/tenants``, ``/v1/bulk/tenants``, ``/v1/agreements`` and
``/v1/tenants/{slug}/audit-log``.

A plan reads nothing else (the audit log: who made the drift it shows). The FastAPI app
(app.py) serves them over HTTP, and the embedded sandbox (api/embedded.py) calls them
in-process for a well-formed request, so that a plan on the embedded sandbox does not
import FastAPI at all (half a second of a 1,000-tenant plan, and of a scoped plan's
whole second). Nothing here imports a web framework or the request models.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from t4o_reconcile.sandbox import rules
from t4o_reconcile.sandbox.bulk import tenant_configs
from t4o_reconcile.sandbox.rules import ProblemError
from t4o_reconcile.sandbox.secrets import audit_shown, shown
from t4o_reconcile.sandbox.store import Principal, Row, Store, Tx

MAX_LIMIT = 100


def dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def encode_cursor(after: str | int, key: str = "after") -> str:
    return base64.urlsafe_b64encode(dumps({key: after}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: type[str] | type[int], key: str = "after") -> Any:
    """The position a cursor holds under ``key`` ("before" for a newest-first list, so
    that a cursor of one order is refused by the other)."""
    if cursor is None or cursor == "":
        return kind()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = json.loads(base64.urlsafe_b64decode(padded.encode()))[key]
    except (ValueError, KeyError, TypeError):
        after = None
    if type(after) is not kind:
        raise ProblemError(
            rules.INVALID_CURSOR,
            "cursor: expected the next_cursor of a previous page of this list",
            field="cursor",
        )
    return after


def page(items: list[Any], next_after: str | int | None, key: str = "after") -> str:
    cursor = None if next_after is None else encode_cursor(next_after, key)
    return dumps({"items": items, "next_cursor": cursor})


def whoami(principal: Principal) -> str:
    return dumps(
        {"partner": principal.partner, "tenant": principal.tenant, "read_only": principal.read_only}
    )


def vocabulary(store: Store) -> str:
    lists = store.vocabulary.lists()
    return dumps({name: sorted(names) for name, names in lists.items()})


def tenants(tx: Tx, limit: int, cursor: str | None) -> str:
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    after = decode_cursor(cursor, str)
    rows = tx.tenant_page(tx.principal.partner, tx.principal.tenant, after, limit + 1, None)
    more = len(rows) > limit
    rows = rows[:limit]
    shown_to = tx.principal.read_only
    return page([shown(row.out(), shown_to) for _, row in rows], rows[-1][0] if more else None)


def bulk_tenants(tx: Tx, limit: int, cursor: str | None, slugs: str | None) -> str:
    after = decode_cursor(cursor, str)
    wanted = None if slugs is None else sorted({s.strip() for s in slugs.split(",") if s.strip()})
    listed, text, more = tenant_configs(tx, after=after, limit=limit, slugs=wanted)
    next_cursor = encode_cursor(listed[-1]) if more else None
    return '{"items":' + text + ',"next_cursor":' + dumps(next_cursor) + "}"


def agreements(tx: Tx, limit: int, cursor: str | None) -> str:
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    after = decode_cursor(cursor, str)
    rows = tx.agreements(tx.principal.partner, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return page(agreements_out(tx, rows), rows[-1].data["name"] if more else None)


def agreements_out(tx: Tx, rows: list[Row]) -> list[dict[str, Any]]:
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    counts = tx.tenant_counts(tx.principal.partner, [r.data["name"] for r in rows])
    return [{**r.out(), "tenant_count": counts[r.data["name"]]} for r in rows]


def not_found(what: str) -> ProblemError:
    return ProblemError(rules.NOT_FOUND, f"{what} does not exist")


def visible_tenant(tx: Tx, slug: str) -> Row:
    """The tenant if the token may see it; another partner's tenant is simply not found."""
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    found = tx.tenant(slug)
    if found is None or found.partner != tx.principal.partner or not tx.principal.sees(slug):
        raise not_found(f"tenant {slug!r}")
    return found.row


def audit_log(
    tx: Tx, slug: str, limit: int, cursor: str | None, *, since: str = "", newest_first: bool
) -> str:
    """A page of the tenant's audit log (newest first: paged by "before" cursors)."""
    if tx.principal is None:
        raise RuntimeError("tx.principal is set for every request that gets here")
    key = "before" if newest_first else "after"
    after = decode_cursor(cursor, int, key)
    visible_tenant(tx, slug)
    entries = tx.audit_entries(slug, after, limit + 1, since=since, newest_first=newest_first)
    more = len(entries) > limit
    entries = [audit_shown(entry, tx.principal.read_only) for entry in entries[:limit]]
    return page(entries, entries[-1]["id"] if more else None, key)


# -- the embedded sandbox's direct path


@dataclass(frozen=True, slots=True)
class Read:
    """One read the embedded sandbox answers itself: the query parameters it takes (each
    None when not given) and how its answer is made."""

    params: Mapping[str, str | None]
    answer: Callable[[Store, Principal, Mapping[str, str | None]], str]


def _listed(
    read: Callable[[Tx, int, str | None], str], default: int
) -> Callable[[Store, Principal, Mapping[str, str | None]], str]:
    def answer(store: Store, principal: Principal, params: Mapping[str, str | None]) -> str:
        with store.transaction(principal, write=False) as tx:
            return read(tx, int(params["limit"] or default), params["cursor"])

    return answer


def _audit(store: Store, principal: Principal, params: Mapping[str, str | None]) -> str:
    if params["order"] not in (None, "asc", "desc"):
        # The embedded sandbox passes it to the app, which words the refusal.
        raise ProblemError(rules.INVALID_REQUEST, "order: expected asc or desc")
    with store.transaction(principal, write=False) as tx:
        return audit_log(
            tx,
            str(params["slug"]),
            int(params["limit"] or 50),
            params["cursor"],
            newest_first=params["order"] == "desc",
        )


def _bulk(store: Store, principal: Principal, params: Mapping[str, str | None]) -> str:
    with store.transaction(principal, write=False) as tx:
        return bulk_tenants(tx, int(params["limit"] or 100), params["cursor"], params["slugs"])


LISTED = {"limit": None, "cursor": None}
READS: dict[str, Read] = {
    "/v1/whoami": Read({}, lambda store, principal, params: whoami(principal)),
    "/v1/vocabulary": Read({}, lambda store, principal, params: vocabulary(store)),
    "/v1/tenants": Read(LISTED, _listed(tenants, 50)),
    "/v1/agreements": Read(LISTED, _listed(agreements, 50)),
    "/v1/bulk/tenants": Read({**LISTED, "slugs": None}, _bulk),
}
# Reads of one tenant, by the path's shape: the slug is the path's, never a parameter.
_AUDIT_PATH = re.compile(r"/v1/tenants/([a-z0-9][a-z0-9-]{1,62})/audit-log")
_AUDIT = Read({**LISTED, "order": None}, _audit)


def read_of(path: str) -> tuple[Read, dict[str, str]] | None:
    """The read the embedded sandbox answers itself at ``path``, and what the path says
    (a tenant's slug); None for any other path (the app answers it)."""
    read = READS.get(path)
    if read is not None:
        return read, {}
    found = _AUDIT_PATH.fullmatch(path)
    return None if found is None else (_AUDIT, {"slug": found.group(1)})


# What the app's parameter validation accepts without a word: 1..100, plain digits.
_LIMIT = re.compile(r"[1-9][0-9]{0,2}")
_PLAIN = re.compile(r"[A-Za-z0-9_.,=-]*")


def checked_params(read: Read, query: list[tuple[str, str]]) -> dict[str, str | None] | None:
    """The query of a request for ``read`` when it is one the app would accept as it is
    (each known parameter at most once, a limit of 1..100, values of cursor and slug
    characters only); None for anything else, which the app itself then answers."""
    params: dict[str, str | None] = dict(read.params)
    seen: set[str] = set()
    for name, value in query:
        if name not in params or name in seen or not _PLAIN.fullmatch(value):
            return None
        seen.add(name)
        params[name] = value
    limit = params.get("limit")
    if limit is not None and (not _LIMIT.fullmatch(limit) or int(limit) > MAX_LIMIT):
        return None
    return params
