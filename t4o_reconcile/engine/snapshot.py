"""The normalised snapshot both sides of a diff are turned into.

The desired side (from YAML) and the live side (from a provider) meet here as plain
data: per tenant, per section, items keyed by their natural key. The engine compares
snapshots and never sees YAML or HTTP.

Keys: singleton sections hold one item under the key ``""``; collections are keyed by
their key fields (``Section.key``: a connector, an account number, an e-mail,
``"{kind}/{language}"``).

Field values are JSON-like (str, int, float, bool, None, dict, list) and already
normalised (see ``t4o_reconcile.normalize``). A secret field holds a ``Secret`` on the
desired side and a ``Fingerprint`` on the live side: that a secret is stored, and — once
the provider asked the API, which alone can compare — whether the desired value is it.
On the desired side an item holds only the fields the configuration manages; live items
hold everything the API returns (including read-only fields such as
``last_invoice_number`` or a user's ``status``).

The engine compares only the fields the desired item holds (recursively into dicts), so
read-only and unmanaged fields never show as changes.

Sections, their keys and their fields (the same on both sides) are declared in
``engine/sections.py``. Singletons (identity, defaults, billing, agreement, invoicing,
email_account) hold one item under ``""`` (the email account none: the system account);
identity holds the personal number as a ``Secret`` / ``Fingerprint`` with a hint; the
agreement item holds ``name`` (None: in no agreement); live items also hold the read-only
fields (a user's ``status``, invoicing's last numbers).

Desired items hold every field with its default applied, except an optional field that
the file leaves out (None and not written): that one is unmanaged. ``programs`` always
lists all four programs (a program left out is "none"). On the desired side identity
always holds both organization_number and personal_number (one of them None).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from typing import Any

from t4o_reconcile.fingerprint import compared_digest
from t4o_reconcile.vocabulary import Vocabulary


@dataclass(frozen=True, slots=True)
class Secret:
    """A resolved secret from the configuration. Its value never reaches any output."""

    value: str = field(repr=False)
    source: str = ""  # the reference it came from, e.g. "env:OK_SKOGEN_EVENTOR"
    # What outputs may show to recognise it (a personal number's last two digits).
    hint: str = ""

    def __repr__(self) -> str:
        return "Secret(sensitive)"

    __str__ = __repr__

    def matches(self, live: Fingerprint) -> bool:
        """Whether the API said this very value is the one stored (False when it was
        asked about another value, or not asked: see ``Fingerprint.compared``)."""
        return (
            live.same is True
            and live.candidate is not None
            and hmac.compare_digest(live.candidate, compared_digest(self.value))
        )


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """A secret the API stores: never its value nor any fingerprint of it (those never
    leave the API), only that it is there, where it was written from, and, once the API
    compared a desired value with it, the answer."""

    hint: str = ""  # e.g. the last two digits of a personal number
    # The reference the secret was written from (env:NAME), when the API keeps it.
    source: str | None = None
    # Which value the API compared (``fingerprint.compared_digest`` of it) and whether it
    # was the stored one; None: not compared (a read-only token cannot ask).
    candidate: bytes | None = field(default=None, repr=False)
    same: bool | None = None

    @property
    def compared(self) -> bool:
        return self.same is not None

    def answered(self, value: str, same: bool) -> Fingerprint:
        """This fingerprint with the API's answer about ``value``."""
        return Fingerprint(self.hint, self.source, compared_digest(value), same)


@dataclass(frozen=True, slots=True)
class UnresolvedSecret:
    """A secret reference that could not be resolved; planning it is a plan error."""

    source: str
    problem: str

    def __repr__(self) -> str:
        return f"UnresolvedSecret({self.source})"


@dataclass(frozen=True, slots=True)
class UnreadSecret:
    """A secret whose value this run did not read (``plan --without-secrets``): it is not
    compared, and a plan holding one is partial: it cannot be applied."""

    source: str

    def __repr__(self) -> str:
        return f"UnreadSecret({self.source})"


@dataclass(slots=True)
class Item:
    fields: dict[str, Any]
    version: str | None = None  # the live ETag; None on the desired side
    # The file's own form of fields it normalises ("contact.phone": "+47 21 00 00 00"),
    # where it differs: shown, never compared. None: every field as it is.
    written: dict[str, str] | None = None


@dataclass(slots=True)
class SafetyOptions:
    max_delete_share: float = 0.25
    min_delete_items: int = 3


@dataclass(slots=True)
class TenantSnapshot:
    slug: str
    # section -> key -> item. The desired side lists only the sections it manages; a
    # managed section that is empty is present with no items (an empty dict).
    sections: dict[str, dict[str, Item]] = field(default_factory=dict)
    source: str | None = None  # the file it came from (desired side)
    safety: SafetyOptions | None = None  # None: the global setting applies
    # The tenant file's lifecycle (desired side): "decommissioned" ends the client, and
    # its plan needs --allow-deletes (engine.safety). None: managed.
    lifecycle: str | None = None


@dataclass(slots=True)
class Snapshot:
    tenants: dict[str, TenantSnapshot] = field(default_factory=dict)
    # agreement name -> item with fields {"name", "customer_number"}; None = unmanaged
    # (the desired side has no _agreements.yaml).
    agreements: dict[str, Item] | None = None
    # Live side: the names the API accepts (merge fields, languages, PDF templates);
    # None when the provider cannot say, and on the desired side.
    vocabulary: Vocabulary | None = None
