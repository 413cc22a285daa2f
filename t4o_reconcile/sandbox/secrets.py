"""Secrets and personal numbers in the sandbox: stored as keyed fingerprints, answered as
markers, compared only here.

A fingerprint is HMAC-SHA256 under the store's own key (the *pepper*, made once per
database and never in any answer) of a fresh salt and the value. Whoever reads an answer,
even with every token, holds neither the key nor the fingerprint, so cannot test a guess
offline: the only way to tell whether a value is the stored one is to ask here,
``POST /v1/tenants/{slug}/fingerprints:compare``, which only a writing token may call,
with a few wrong answers a minute per token and tenant, each call audited (which fields,
never values).

Answers show a stored secret as ``{"stored": true, "source": "env:NAME"}`` and a personal
number as ``{"stored": true, "last_digits": "34"}``; a read-only token gets no digits.
Fingerprints written before the key existed (``{salt, hash}`` without ``key``) are still
compared, here, by their old rule.
"""

from __future__ import annotations

import collections
import contextvars
import hashlib
import hmac
import json
import math
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from t4o_reconcile import national_id
from t4o_reconcile.fingerprint import matches as legacy_matches
from t4o_reconcile.sandbox import rules
from t4o_reconcile.sandbox.rules import ProblemError
from t4o_reconcile.vocabulary import SLUG_PATTERN

if TYPE_CHECKING:
    from t4o_reconcile.sandbox.store import Principal, Store, TenantRow, Tx

# The store's key, for the transaction being run: a secret's stored form is made deep in
# the operations, which never hold (nor pass around) the key itself.
_PEPPER: contextvars.ContextVar[bytes] = contextvars.ContextVar("t4o_sandbox_pepper")
KEY_ID = "pepper-1"
SENSITIVE = "(sensitive)"

_KEY_SCHEMA = """
CREATE TABLE IF NOT EXISTS secret_key (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB NOT NULL
);
"""

# Which field of which resource holds a secret a client may compare against.
COMPARABLE = {"tenant": "personal_number", "email_account": "password", "connections": "token"}
MAX_FIELDS = 100
MAX_VALUE = 4096
# Tenants one bulk comparison may ask about: a plan asks about many in one call.
MAX_TENANTS = 100
# Comparisons finding a difference one token may make for one tenant in a window: a plan
# makes one call per tenant, a guesser gets this many wrong guesses a minute, each audited.
COMPARE_BUDGET = 10
COMPARE_WINDOW = 60.0


def load_pepper(conn: sqlite3.Connection) -> bytes:
    """The database's key, made on first open (32 random bytes)."""
    conn.executescript(_KEY_SCHEMA)
    found = conn.execute("SELECT key FROM secret_key WHERE id = 1").fetchone()
    if found is not None:
        return bytes(found[0])
    key = secrets.token_bytes(32)
    conn.execute("INSERT OR IGNORE INTO secret_key (id, key) VALUES (1, ?)", (key,))
    return bytes(conn.execute("SELECT key FROM secret_key WHERE id = 1").fetchone()[0])


@contextmanager
def keyed_by(pepper: bytes) -> Iterator[None]:
    token = _PEPPER.set(pepper)
    try:
        yield
    finally:
        _PEPPER.reset(token)


def _digest(pepper: bytes, salt: str, value: str) -> str:
    return hmac.new(pepper, salt.encode() + b"\x00" + value.encode(), hashlib.sha256).hexdigest()


def stored(value: str, source: str | None = None) -> dict[str, Any]:
    """What the store keeps of a secret: a keyed fingerprint under a fresh salt and, when
    the client said, where it took the value from. Only inside a store's transaction."""
    pepper = _PEPPER.get()
    salt = secrets.token_hex(16)
    out: dict[str, Any] = {
        "fingerprint": {"salt": salt, "hash": _digest(pepper, salt, value), "key": KEY_ID}
    }
    if source is not None:
        out["source"] = source
    return out


def is_stored(value: Any) -> bool:
    return isinstance(value, dict) and "fingerprint" in value


def holds(stored_value: Any, candidate: str, pepper: bytes) -> bool:
    if not is_stored(stored_value):
        return False
    print_ = stored_value["fingerprint"]
    salt, expected = str(print_.get("salt", "")), str(print_.get("hash", ""))
    if print_.get("key") == KEY_ID:
        return hmac.compare_digest(_digest(pepper, salt, candidate), expected)
    return legacy_matches(candidate, salt, expected)


# Answers ------------------------------------------------------------------------------


def shown(data: dict[str, Any], read_only: bool = False) -> dict[str, Any]:
    """``data`` as an answer gives it: every stored secret as a marker (its source, a
    personal number's last digits unless ``read_only``), never a fingerprint."""
    if not any(is_stored(value) for value in data.values()):
        return data
    return {
        key: _marker(value, read_only) if is_stored(value) else value for key, value in data.items()
    }


def _marker(value: dict[str, Any], read_only: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"stored": True}
    if isinstance(value.get("source"), str):
        out["source"] = value["source"]
    if isinstance(value.get("last_digits"), str) and not read_only:
        out["last_digits"] = value["last_digits"]
    return out


def shown_text(data: str, read_only: bool = False) -> str:
    """A stored row's JSON text as an answer gives it (see ``shown``); parsed only when
    it holds a secret, so the bulk read keeps splicing text."""
    if '"fingerprint"' not in data:
        return data
    return json.dumps(shown(json.loads(data), read_only), separators=(",", ":"), ensure_ascii=False)


def audit_shown(entry: dict[str, Any], read_only: bool) -> dict[str, Any]:
    """An audit entry as ``read_only`` tokens get it: a personal number as "(sensitive)"."""
    if not read_only:
        return entry
    out = dict(entry)
    for side in ("before", "after"):
        values = entry.get(side)
        if isinstance(values, dict):
            out[side] = {
                key: SENSITIVE
                if isinstance(value, str) and value.startswith("(sensitive …")
                else value
                for key, value in values.items()
            }
    return out


# Comparing ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Candidate:
    resource: str  # tenant, email_account, connections
    key: str  # the connector of a connection; "" otherwise
    field: str
    value: str

    @property
    def name(self) -> str:
        """How the audit log and the answer name the field: ``connections/eventor-norway.token``."""
        where = f"{self.resource}/{self.key}" if self.key else self.resource
        return f"{where}.{self.field}"


def candidates(body: Any, at: str = "") -> list[Candidate]:
    """The compare request's fields, checked: ``{"fields": [{resource, key?, field,
    value}, ...]}``, each comparable field at most once (``at``: where the body is in the
    request, for the error)."""
    if not isinstance(body, Mapping) or set(body) != {"fields"}:
        raise _invalid(at + "body", 'expected {"fields": [{resource, key, field, value}, ...]}')
    fields = body["fields"]
    if not isinstance(fields, list) or not 1 <= len(fields) <= MAX_FIELDS:
        raise _invalid(at + "fields", f"expected a list of 1..{MAX_FIELDS} fields")
    out: list[Candidate] = []
    seen: set[tuple[str, str, str]] = set()
    for index, raw in enumerate(fields):
        where = f"{at}fields.{index}"
        if (
            not isinstance(raw, Mapping)
            or not {"resource", "field", "value"} <= set(raw)
            or not (set(raw) <= {"resource", "key", "field", "value"})
        ):
            raise _invalid(where, "expected {resource, key, field, value}")
        resource, key, name, value = (raw.get(k, "") for k in ("resource", "key", "field", "value"))
        if not isinstance(resource, str) or COMPARABLE.get(resource) != name:
            allowed = ", ".join(f"{r}.{f}" for r, f in COMPARABLE.items())
            raise _invalid(f"{where}.field", f"expected one of {allowed}")
        if not isinstance(key, str) or (resource == "connections") != bool(key):
            raise _invalid(f"{where}.key", "expected the connector of a connection, else none")
        if not isinstance(value, str) or not 1 <= len(value) <= MAX_VALUE:
            raise _invalid(f"{where}.value", f"expected a string of 1..{MAX_VALUE} characters")
        if (resource, key, name) in seen:
            raise _invalid(where, "each field at most once a call")
        seen.add((resource, key, name))
        out.append(Candidate(resource, key, name, value))
    return out


def bulk_candidates(body: Any) -> list[tuple[str, list[Candidate]]]:
    """The bulk compare request, checked: ``{"tenants": [{slug, fields}, ...]}``, each
    tenant at most once, each one's fields as ``candidates`` checks them."""
    if not isinstance(body, Mapping) or set(body) != {"tenants"}:
        raise _invalid("body", 'expected {"tenants": [{slug, fields}, ...]}')
    tenants = body["tenants"]
    if not isinstance(tenants, list) or not 1 <= len(tenants) <= MAX_TENANTS:
        raise _invalid("tenants", f"expected a list of 1..{MAX_TENANTS} tenants")
    out: dict[str, list[Candidate]] = {}
    for index, raw in enumerate(tenants):
        where = f"tenants.{index}"
        if not isinstance(raw, Mapping) or set(raw) != {"slug", "fields"}:
            raise _invalid(where, "expected {slug, fields}")
        slug = raw["slug"]
        if not isinstance(slug, str) or not _SLUG.fullmatch(slug):
            raise _invalid(f"{where}.slug", "expected a tenant's slug")
        if slug in out:
            raise _invalid(f"{where}.slug", "each tenant at most once a call")
        out[slug] = candidates({"fields": raw["fields"]}, f"{where}.")
    return list(out.items())


def _invalid(field: str, detail: str) -> ProblemError:
    return ProblemError(rules.INVALID_REQUEST, f"{field}: {detail}", field=field)


class CompareBudget:
    """Comparisons that found a difference, per token and tenant, in a sliding window, in
    memory. A guess costs one when it is wrong; a plan of a converged tenant (every value
    the same) costs nothing, so plans never wait, while a guesser gets ``budget`` wrong
    guesses a minute at one tenant's secrets. Whether a call is refused is decided before
    anything is compared, so a refusal says nothing about a value."""

    def __init__(self, budget: int = COMPARE_BUDGET, window: float = COMPARE_WINDOW) -> None:
        self.budget = budget
        self.window = window
        self._misses: dict[tuple[str, str], collections.deque[float]] = {}
        self.lock = threading.Lock()  # held across a whole call: check, compare, spend

    def check(self, token: str, slug: str) -> None:
        """Raise 429 when the budget is spent (the call is then not run)."""
        now = time.monotonic()
        misses = self._misses.setdefault((token, slug), collections.deque())
        while misses and misses[0] <= now - self.window:
            misses.popleft()
        if len(misses) >= self.budget:
            wait = max(1, math.ceil(misses[0] + self.window - now))
            raise ProblemError(
                rules.RATE_LIMITED,
                f"fingerprints:compare: at most {self.budget} comparisons finding a"
                f" difference a minute per token and tenant; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )

    def spend(self, token: str, slug: str) -> None:
        self._misses.setdefault((token, slug), collections.deque()).append(time.monotonic())


_SLUG = re.compile(SLUG_PATTERN)
COMPARE_PATH = re.compile(r"^/v1/tenants/([a-z0-9][a-z0-9-]{1,62})/fingerprints:compare$")
BULK_COMPARE_PATH = "/v1/bulk/fingerprints:compare"


def compare_answer(
    store: Store, principal: Principal, slug: str, body: Any, client: str | None = None
) -> str:
    """The answer to ``POST /v1/tenants/{slug}/fingerprints:compare`` (JSON text), or a
    ProblemError: 403 for a read-only token, 404 for a tenant the token does not see,
    422 for a body of another shape, 429 over the budget. The same function serves the
    app and the embedded sandbox's direct path."""
    _may_compare(principal)
    # One transaction: a plan's read transaction before the writing one (for the audit
    # entry) was a fifth of the embedded sandbox's answer.
    with store.compare_budget.lock, store.transaction(principal, write=True, client=client) as tx:
        found = _visible(tx, principal, slug)
        answer = _compared(store, tx, principal, slug, found, candidates(body))
    return json.dumps(answer, separators=(",", ":"))


def bulk_compare_answer(
    store: Store, principal: Principal, body: Any, client: str | None = None
) -> str:
    """The answer to ``POST /v1/bulk/fingerprints:compare`` (JSON text): each tenant's
    answer as the tenant's own call would give it, or the problem that call would answer
    (404, 429) in its place; a read-only token (403) or a body of another shape (422) is
    refused whole. One transaction for every tenant: a plan asks about each tenant once,
    and a call per tenant was most of a no-change plan's time."""
    _may_compare(principal)
    asked = bulk_candidates(body)
    answers: list[dict[str, Any]] = []
    with store.compare_budget.lock, store.transaction(principal, write=True, client=client) as tx:
        for slug, fields in asked:
            try:
                found = _visible(tx, principal, slug)
                answer = _compared(store, tx, principal, slug, found, fields)
            except ProblemError as refused:
                answer = {"problem": refused.body()}
                if "Retry-After" in refused.headers:
                    answer["retry_after"] = int(refused.headers["Retry-After"])
            answers.append({"slug": slug, **answer})
    return json.dumps({"tenants": answers}, separators=(",", ":"))


def _may_compare(principal: Principal) -> None:
    if principal.read_only:
        raise ProblemError(
            rules.READ_ONLY_TOKEN,
            "fingerprints:compare: a read-only token cannot compare secrets; a plan made"
            " with it leaves them not compared",
        )


def _visible(tx: Tx, principal: Principal, slug: str) -> TenantRow:
    # Not reads.visible_tenant: reads imports this module.
    found = tx.tenant(slug)
    if found is None or found.partner != principal.partner or not principal.sees(slug):
        raise ProblemError(rules.NOT_FOUND, f"tenant {slug!r} does not exist")
    return found


def _compared(
    store: Store,
    tx: Tx,
    principal: Principal,
    slug: str,
    found: TenantRow,
    asked: list[Candidate],
) -> dict[str, Any]:
    """The comparison within the token's budget for the tenant (decided first, so a
    refusal says nothing about a value); a difference found spends one."""
    budget, who = store.compare_budget, principal.token_id or principal.actor
    budget.check(who, slug)
    answer = compare(tx, slug, found, asked, store.pepper)
    if not all(field["same"] for field in answer["fields"]):
        budget.spend(who, slug)
    return answer


def compare(
    tx: Tx, slug: str, tenant: TenantRow, asked: list[Candidate], pepper: bytes
) -> dict[str, Any]:
    """Whether each candidate is the value stored there (``same``), nothing more; the
    tenant (``tenant``, read in ``tx``) is visible and the token may write (checked by
    the caller). Audited."""
    from t4o_reconcile.sandbox.store import CONNECTIONS, EMAIL_ACCOUNT

    answers = []
    for candidate in asked:
        if candidate.resource == "tenant":
            same = holds(
                tenant.row.data.get("personal_number"),
                _canonical(candidate.value, tenant.row.data),
                pepper,
            )
        else:
            section = EMAIL_ACCOUNT if candidate.resource == "email_account" else CONNECTIONS
            row = tx.get(slug, section, candidate.key)
            same = row is not None and holds(row.data.get(candidate.field), candidate.value, pepper)
        answers.append(
            {
                "resource": candidate.resource,
                "key": candidate.key,
                "field": candidate.field,
                "same": same,
            }
        )
    tx.audit(slug, "compare", "fingerprints", None, {"fields": [c.name for c in asked]})
    return {"fields": answers}


def _canonical(value: str, tenant: Mapping[str, Any]) -> str:
    country = (tenant.get("address") or {}).get("country") or national_id.DEFAULT_COUNTRY
    try:
        return national_id.personal_number(value, country)
    except national_id.IdentityError:
        return value
