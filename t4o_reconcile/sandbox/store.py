"""SQLite persistence of the sandbox: tokens, tenants, their resources, audit, the
distribution log of issued invoices, idempotency.

One connection per store, guarded by a lock: FastAPI runs sync endpoints in a thread pool
and SQLite serialises writes anyway, so one transaction at a time is both simple and
correct. WAL mode keeps readers in other processes (``sandbox token create`` while the
server runs) from blocking. Every request runs in exactly one transaction.

Each resource of a tenant is one row of ``resources`` (tenant, section, key, JSON data,
version), so the bulk read of a page of tenants is two queries whatever their content.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from t4o_reconcile.fingerprint import fingerprint, matches, new_salt
from t4o_reconcile.sandbox.catalog import PRODUCT
from t4o_reconcile.sandbox.secrets import CompareBudget, keyed_by, load_pepper, stored
from t4o_reconcile.vocabulary import Vocabulary

# The sections resources are stored under (``resources.section``).
INVOICING = "invoicing"
EMAIL_ACCOUNT = "email_account"
CONNECTIONS = "connections"
BANK_ACCOUNTS = "bank_accounts"
USERS = "users"
EMAIL_TEMPLATES = "email_templates"
MEMBERSHIP = "agreement"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    id TEXT PRIMARY KEY,
    salt TEXT NOT NULL,
    hash TEXT NOT NULL,
    partner TEXT NOT NULL,
    tenant TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenants (
    slug TEXT PRIMARY KEY,
    partner TEXT NOT NULL,
    organization_number TEXT,
    owner_email TEXT NOT NULL,
    data TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tenants_by_partner ON tenants (partner, slug);
CREATE INDEX IF NOT EXISTS tenants_by_orgnr ON tenants (organization_number);
CREATE TABLE IF NOT EXISTS resources (
    slug TEXT NOT NULL,
    section TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (slug, section, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS resources_by_key ON resources (section, key);
CREATE TABLE IF NOT EXISTS agreements (
    partner TEXT NOT NULL,
    name TEXT NOT NULL,
    customer_number TEXT NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (partner, name)
);
CREATE TABLE IF NOT EXISTS idempotency_keys (
    principal TEXT NOT NULL,
    path TEXT NOT NULL,
    key TEXT NOT NULL,
    request TEXT NOT NULL,
    status INTEGER NOT NULL,
    body TEXT NOT NULL,
    etag TEXT,
    PRIMARY KEY (principal, path, key)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    before TEXT,
    after TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_slug ON audit (slug, id);
CREATE TABLE IF NOT EXISTS distributions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    slug TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS distributions_by_slug ON distributions (slug, id);
"""

# Columns added after the first release: (table, column, definition). A database made
# before gets them on open; old rows read as NULL (an unnamed token, no client known).
_ADDED_COLUMNS = (
    ("tokens", "read_only", "INTEGER NOT NULL DEFAULT 0"),
    ("tokens", "name", "TEXT"),
    ("audit", "token", "TEXT"),
    ("audit", "client", "TEXT"),
)
# The longest User-Agent kept in the audit log: enough to name a tool and its version.
MAX_CLIENT = 200

_TOKEN_PREFIX = "t4o"
SENSITIVE = "(sensitive)"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a token acts for: a partner, optionally restricted to one tenant."""

    partner: str
    tenant: str | None = None
    read_only: bool = False
    # The name given at ``sandbox token create --name``: who (or which job) holds it, so
    # the audit and distribution logs can say who made a change, not only for which
    # partner. None for a token made without a name.
    token_name: str | None = None
    # The token's public id (never its secret): what per-token budgets count by.
    token_id: str | None = None

    @property
    def actor(self) -> str:
        return self.partner if self.tenant is None else f"{self.partner}/{self.tenant}"

    def sees(self, slug: str) -> bool:
        return self.tenant is None or self.tenant == slug


@dataclass(slots=True)
class Row:
    data: dict[str, Any]
    version: int

    def out(self) -> dict[str, Any]:
        return {**self.data, "version": str(self.version)}


class TenantRow(NamedTuple):
    """A tenant as stored, with the columns kept beside its data."""

    row: Row
    partner: str
    owner_email: str


@dataclass(slots=True)
class Written(Row):
    """A written row and the other rows the write changed as a side effect (a bank
    account's radio flag moved away from them): the answer names them in
    ``also_changed``, so the client learns their versions without reading them again."""

    also_changed: list[Row] = field(default_factory=list)

    def out(self) -> dict[str, Any]:
        return {**super(Written, self).out(), "also_changed": [r.out() for r in self.also_changed]}


@dataclass(slots=True)
class Replay:
    """A stored answer to a create, returned again for a retry with the same key."""

    request: str
    status: int
    body: str
    etag: str | None


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def masked(
    data: dict[str, Any] | None, before: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """A copy fit for the audit log: every fingerprinted secret shows as "(sensitive)",
    a personal number as "(sensitive …34)" (its last two digits). Given ``before``, a
    secret whose stored fingerprint differs from the one there shows as "(sensitive,
    replaced)": the log tells that a secret was written anew without ever holding it (a
    new salt is drawn on every write, so it cannot tell a same value sent again)."""
    if data is None:
        return None
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict) and "fingerprint" in value:
            digits = value.get("last_digits")
            text = f"(sensitive …{digits})" if isinstance(digits, str) else SENSITIVE
            old = (before or {}).get(key)
            if (
                before is not None
                and isinstance(old, dict)
                and old.get("fingerprint") != value["fingerprint"]
                and not isinstance(digits, str)
            ):
                text = "(sensitive, replaced)"
            out[key] = text
        else:
            out[key] = value
    return out


def now() -> str:
    """The time of an entry: UTC, milliseconds, ``Z``; such strings sort by time."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def secret_out(secret: str, source: str | None = None) -> dict[str, Any]:
    """What is stored of a secret: its fingerprint under the store's key and, when the
    client said, the reference it came from (``env:NAME``): never the secret. Answers
    show it as a marker only (``sandbox.secrets.shown``)."""
    return stored(secret, source)


MAX_TOKEN_NAME = 100


def check_token_name(name: str) -> str:
    """A token's name as the logs will show it: 1..100 printable characters."""
    name = name.strip()
    if not name or len(name) > MAX_TOKEN_NAME or not name.isprintable():
        raise ValueError(
            f"name: expected 1..{MAX_TOKEN_NAME} printable characters (who holds the token,"
            " e.g. kari@ok-skogen.no or ci-apply)"
        )
    return name


def client_of(user_agent: str | None) -> str | None:
    """A request's User-Agent as the audit log keeps it: printable, at most MAX_CLIENT."""
    if not user_agent:
        return None
    text = "".join(ch if ch.isprintable() else " " for ch in user_agent).strip()
    return text[:MAX_CLIENT] or None


class Tx:
    """One transaction: the primitive reads and writes the operations are built from."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        principal: Principal | None,
        client: str | None = None,
        vocabulary: Vocabulary = PRODUCT,
    ) -> None:
        self.conn = conn
        self.principal = principal
        self.client = client  # the request's User-Agent, as the audit log records it
        self.vocabulary = vocabulary

    # Tenants ---------------------------------------------------------------------

    def tenant(self, slug: str) -> TenantRow | None:
        """Any tenant, whoever owns it."""
        found = self.conn.execute(
            "SELECT data, version, partner, owner_email FROM tenants WHERE slug = ?", (slug,)
        ).fetchone()
        if found is None:
            return None
        data, version, partner, owner_email = found
        return TenantRow(Row(json.loads(data), version), partner, owner_email)

    def insert_tenant(self, slug: str, partner: str, owner_email: str, data: dict[str, Any]) -> Row:
        self.conn.execute(
            "INSERT INTO tenants (slug, partner, organization_number, owner_email, data, version)"
            " VALUES (?, ?, ?, ?, ?, 1)",
            (slug, partner, data.get("organization_number"), owner_email, _dumps(data)),
        )
        return Row(data, 1)

    def update_tenant(self, slug: str, data: dict[str, Any], version: int) -> Row:
        self.conn.execute(
            "UPDATE tenants SET data = ?, organization_number = ?, version = ? WHERE slug = ?",
            (_dumps(data), data.get("organization_number"), version, slug),
        )
        return Row(data, version)

    def delete_tenant(self, slug: str) -> None:
        self.conn.execute("DELETE FROM resources WHERE slug = ?", (slug,))
        self.conn.execute("DELETE FROM tenants WHERE slug = ?", (slug,))

    def owners_of_organization_number(self, number: str, other_than: str) -> list[str]:
        rows = self.conn.execute(
            "SELECT owner_email FROM tenants WHERE organization_number = ? AND slug != ?",
            (number, other_than),
        ).fetchall()
        return [r[0] for r in rows]

    def tenant_page(
        self, partner: str, only: str | None, after: str, limit: int, slugs: list[str] | None
    ) -> list[tuple[str, Row]]:
        rows = self.raw_tenant_page(partner, only, after, limit, slugs)
        return [(slug, Row(json.loads(data), version)) for slug, data, version in rows]

    def raw_tenant_page(
        self, partner: str, only: str | None, after: str, limit: int, slugs: list[str] | None
    ) -> list[tuple[str, str, int]]:
        """Like ``tenant_page`` but with the stored JSON text: the bulk read splices it."""
        # With named slugs, their primary key finds them (``+partner``: not the partner's
        # index, which walks every tenant of the partner, 10,000 for a plan of three).
        by = "partner" if slugs is None else "+partner"
        sql = f"SELECT slug, data, version FROM tenants WHERE {by} = ? AND slug > ?"
        args: list[Any] = [partner, after]
        if only is not None:
            sql += " AND slug = ?"
            args.append(only)
        if slugs is not None:
            sql += f" AND slug IN ({','.join('?' * len(slugs))})"
            args.extend(slugs)
        sql += " ORDER BY slug LIMIT ?"
        args.append(limit)
        return list(self.conn.execute(sql, args))

    def raw_resources_of(self, slugs: list[str]) -> list[tuple[str, str, str, str, int]]:
        """Every resource row of these tenants, ordered by tenant, section and key."""
        if not slugs:
            return []
        return list(
            self.conn.execute(
                "SELECT slug, section, key, data, version FROM resources"
                f" WHERE slug IN ({','.join('?' * len(slugs))})"
                " ORDER BY slug, section, key",
                slugs,
            )
        )

    # Resources of a tenant ---------------------------------------------------------

    def get(self, slug: str, section: str, key: str = "") -> Row | None:
        found = self.conn.execute(
            "SELECT data, version FROM resources WHERE slug = ? AND section = ? AND key = ?",
            (slug, section, key),
        ).fetchone()
        return None if found is None else Row(json.loads(found[0]), found[1])

    def put(self, slug: str, section: str, key: str, data: dict[str, Any], version: int) -> Row:
        self.conn.execute(
            "INSERT INTO resources (slug, section, key, data, version) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (slug, section, key) DO UPDATE SET data = excluded.data,"
            " version = excluded.version",
            (slug, section, key, _dumps(data), version),
        )
        return Row(data, version)

    def remove(self, slug: str, section: str, key: str = "") -> None:
        self.conn.execute(
            "DELETE FROM resources WHERE slug = ? AND section = ? AND key = ?",
            (slug, section, key),
        )

    def items(
        self, slug: str, section: str, after: str = "", limit: int = -1
    ) -> list[tuple[str, Row]]:
        rows = self.conn.execute(
            "SELECT key, data, version FROM resources WHERE slug = ? AND section = ?"
            " AND key > ? ORDER BY key LIMIT ?",
            (slug, section, after, limit),
        )
        return [(r[0], Row(json.loads(r[1]), r[2])) for r in rows]

    def key_holders(self, section: str, key: str) -> list[str]:
        """The tenants holding an item under this key (e.g. an account number)."""
        rows = self.conn.execute(
            "SELECT slug FROM resources WHERE section = ? AND key = ?", (section, key)
        )
        return [r[0] for r in rows]

    # Agreements ------------------------------------------------------------------

    def agreement(self, partner: str, name: str) -> Row | None:
        found = self.conn.execute(
            "SELECT customer_number, version FROM agreements WHERE partner = ? AND name = ?",
            (partner, name),
        ).fetchone()
        if found is None:
            return None
        return Row({"name": name, "customer_number": found[0] or None}, found[1])

    def agreements(self, partner: str, after: str, limit: int) -> list[Row]:
        rows = self.conn.execute(
            "SELECT name, customer_number, version FROM agreements"
            " WHERE partner = ? AND name > ? ORDER BY name LIMIT ?",
            (partner, after, limit),
        )
        return [Row({"name": r[0], "customer_number": r[1] or None}, r[2]) for r in rows]

    def put_agreement(
        self, partner: str, name: str, customer_number: str | None, version: int
    ) -> Row:
        # The column is NOT NULL in databases made before the number became optional: an
        # empty string stands for "no customer number" there and here.
        self.conn.execute(
            "INSERT INTO agreements (partner, name, customer_number, version) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (partner, name) DO UPDATE SET customer_number = excluded.customer_number,"
            " version = excluded.version",
            (partner, name, customer_number or "", version),
        )
        return Row({"name": name, "customer_number": customer_number}, version)

    def delete_agreement(self, partner: str, name: str) -> None:
        self.conn.execute("DELETE FROM agreements WHERE partner = ? AND name = ?", (partner, name))

    def tenant_counts(self, partner: str, names: list[str]) -> dict[str, int]:
        if not names:
            return {}
        rows = self.conn.execute(
            "SELECT json_extract(r.data, '$.agreement') AS name, count(*)"
            " FROM resources r JOIN tenants t ON t.slug = r.slug"
            " WHERE t.partner = ? AND r.section = 'agreement'"
            f" AND json_extract(r.data, '$.agreement') IN ({','.join('?' * len(names))})"
            " GROUP BY name",
            [partner, *names],
        )
        counts = dict.fromkeys(names, 0)
        counts.update({r[0]: r[1] for r in rows})
        return counts

    # Audit and idempotency ---------------------------------------------------------

    def audit(
        self,
        slug: str | None,
        action: str,
        resource: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        principal = self.principal
        self.conn.execute(
            "INSERT INTO audit (slug, at, actor, token, client, action, resource, before, after)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                slug,
                now(),
                principal.actor if principal else "system",
                principal.token_name if principal else None,
                self.client,
                action,
                resource,
                None if before is None else _dumps(masked(before)),
                None if after is None else _dumps(masked(after, before)),
            ),
        )

    def audit_entries(
        self, slug: str, cursor: int, limit: int, *, since: str = "", newest_first: bool = False
    ) -> list[dict[str, Any]]:
        """A page of the tenant's audit log from ``cursor`` on (an id: past it, in the
        order asked for), only entries at or after ``since``."""
        order, beyond = ("DESC", "id < ?") if newest_first else ("ASC", "id > ?")
        rows = self.conn.execute(
            "SELECT id, at, actor, token, client, action, resource, before, after FROM audit"
            f" WHERE slug = ? AND {beyond} AND at >= ? ORDER BY id {order} LIMIT ?",
            (slug, cursor if cursor or not newest_first else 1 << 62, since, limit),
        )
        return [
            {
                "id": r[0],
                "at": r[1],
                "actor": r[2],
                "token": r[3],
                "client": r[4],
                "action": r[5],
                "resource": r[6],
                "before": None if r[7] is None else json.loads(r[7]),
                "after": None if r[8] is None else json.loads(r[8]),
            }
            for r in rows
        ]

    def record_distribution(self, slug: str, entry: dict[str, Any]) -> dict[str, Any]:
        """Add an issued invoice's distribution to the tenant's log; the entry as stored,
        with its id and time."""
        at = now()
        cursor = self.conn.execute(
            "INSERT INTO distributions (slug, at, data) VALUES (?, ?, ?)",
            (slug, at, _dumps(entry)),
        )
        return {"id": cursor.lastrowid, "at": at, **entry}

    def distributions(
        self, slug: str, after: int, limit: int, *, since: str = ""
    ) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, at, data FROM distributions WHERE slug = ? AND id > ? AND at >= ?"
            " ORDER BY id LIMIT ?",
            (slug, after, since, limit),
        )
        return [{"id": r[0], "at": r[1], **json.loads(r[2])} for r in rows]

    def replay(self, principal: str, path: str, key: str) -> Replay | None:
        """The stored answer to the create this principal sent to this path with this key:
        a key never replays another principal's answer, nor one for another resource."""
        found = self.conn.execute(
            "SELECT request, status, body, etag FROM idempotency_keys"
            " WHERE principal = ? AND path = ? AND key = ?",
            (principal, path, key),
        ).fetchone()
        return None if found is None else Replay(*found)

    def remember(
        self,
        principal: str,
        path: str,
        key: str,
        request: str,
        status: int,
        body: str,
        etag: str | None,
    ) -> None:
        self.conn.execute(
            "INSERT INTO idempotency_keys (principal, path, key, request, status, body, etag)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (principal, path, key, request, status, body, etag),
        )


class Store:
    """The sandbox database. Safe to share between threads."""

    def __init__(self, db_path: Path | str, vocabulary: Vocabulary = PRODUCT) -> None:
        path = Path(db_path)
        self.vocabulary = vocabulary
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout = 10000")
        self._conn.execute("PRAGMA journal_mode = WAL")
        self._conn.execute("PRAGMA synchronous = NORMAL")
        # How many fingerprint comparisons each token made for each tenant, lately.
        self.compare_budget = CompareBudget()
        with self._lock:
            self._conn.executescript(_SCHEMA)
            self.pepper = load_pepper(self._conn)
            for table, column, definition in _ADDED_COLUMNS:
                columns = {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}
                if column not in columns:
                    self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    @contextmanager
    def transaction(
        self, principal: Principal | None = None, *, write: bool, client: str | None = None
    ) -> Iterator[Tx]:
        """One transaction; rolled back when the block raises (a refused request)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                with keyed_by(self.pepper):
                    yield Tx(self._conn, principal, client, self.vocabulary)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def create_token(
        self,
        partner: str,
        tenant: str | None = None,
        *,
        read_only: bool = False,
        name: str | None = None,
    ) -> str:
        """A new bearer token for the partner (or one of its tenants; ``read_only``: every
        write answers 403; ``name``: who holds it, as the logs show). Only a salted hash is
        stored, so the returned value is the only copy."""
        if not partner.strip():
            raise ValueError("partner: expected a non-empty partner name")
        if name is not None:
            name = check_token_name(name)
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(24)
        token = f"{_TOKEN_PREFIX}_{token_id}_{secret}"
        salt = new_salt()
        with self.transaction(write=True) as tx:
            tx.conn.execute(
                "INSERT INTO tokens (id, salt, hash, partner, tenant, created_at, read_only, name)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    token_id,
                    salt,
                    fingerprint(token, salt),
                    partner.strip(),
                    tenant,
                    datetime.now(UTC).isoformat(),
                    int(read_only),
                    name,
                ),
            )
        return token

    def authenticate(self, token: str) -> Principal | None:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != _TOKEN_PREFIX:
            return None
        with self.transaction(write=False) as tx:
            found = tx.conn.execute(
                "SELECT salt, hash, partner, tenant, read_only, name FROM tokens WHERE id = ?",
                (parts[1],),
            ).fetchone()
        if found is None or not matches(token, found[0], found[1]):
            return None
        return Principal(
            partner=found[2],
            tenant=found[3],
            read_only=bool(found[4]),
            token_name=found[5],
            token_id=parts[1],
        )

    def close(self) -> None:
        with self._lock:
            self._conn.close()
