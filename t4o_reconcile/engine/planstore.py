"""Where a plan keeps its tenants: in memory while the plan is small, on disk beyond.

Every reader of a plan (the renderers, the plan file, review, apply) walks
``Plan.tenants``, a ``TenantStore``, one tenant at a time. A tenant is held as its
``TenantPlan`` until the tenants held so far would pass ``MEMORY_BUDGET`` bytes of their
plan-file JSON; each later one is written to an unnamed temporary file as exactly the
line the plan file holds for it, and read back when it is walked. So the memory of a plan
is bounded by its structure: the tenants of a small plan, plus for a big one a small
summary a tenant (its slug, action counts, errors, the secrets it did not compare) and
the one tenant being read. Saving a big plan copies its lines; loading one spills it as
it is read, line by line.

Secret values never reach the disk: a spilled line holds each secret as the plan file
does (its reference), and the values stay in memory beside the summary, put back in
place when the tenant is read.
"""

from __future__ import annotations

import tempfile
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from t4o_reconcile.engine.plan import Action, TenantPlan

# Bytes of plan-file JSON a plan holds as objects before its tenants go to disk: a
# plan of a few hundred tenants never spills; a creating plan of 10,000 tenants holds
# its first hundred or so.
MEMORY_BUDGET = 4 * 2**20

_KINDS = ("create", "update", "delete", "move")


class _Entry:
    """One tenant: held (``tenant``) or spilled (``offset``, ``length``), and what the
    plan needs of it without reading it."""

    __slots__ = (
        "errors",
        "flagged",
        "kinds",
        "length",
        "offset",
        "secrets",
        "slug",
        "tenant",
        "uncompared",
    )

    def __init__(self, tenant: TenantPlan) -> None:
        self.slug = tenant.slug
        self.tenant: TenantPlan | None = tenant
        self.offset = -1
        self.length = 0
        counts = tenant.counts()
        self.kinds = tuple(counts[kind] for kind in _KINDS)
        self.errors = len(tenant.errors)
        self.flagged = bool(tenant.deletes_need_flag)
        self.uncompared = tuple(tenant.uncompared)  # plan --without-secrets: a few each
        self.secrets: tuple[object, ...] = ()


class TenantStore:
    """The tenants of one plan, in order (see the module). Iterate it to read them; a
    spilled tenant is decoded afresh on each read, so nothing read is kept alive."""

    def __init__(self, tenants: Iterable[TenantPlan] = (), *, budget: int | None = None) -> None:
        self._entries: list[_Entry] = []
        self._budget = MEMORY_BUDGET if budget is None else budget
        self._held_bytes = 0
        self._file: IO[bytes] | None = None
        self._end = 0  # where the next spilled line goes
        self._index: dict[str, int] | None = None
        for tenant in tenants:
            self.add(tenant)

    # -- filling ------------------------------------------------------------------------

    def add(self, tenant: TenantPlan) -> None:
        """Append ``tenant``; it is spilled when the held tenants' JSON passes the budget."""
        self._index = None
        self._entries.append(self._entry(tenant))

    def add_line(self, tenant: TenantPlan, line: bytes) -> None:
        """Append ``tenant``, read from ``line``: its plan-file line (``tenant_line``),
        which the store keeps as it is once the budget is spent."""
        self._index = None
        entry = _Entry(tenant)
        self._place(entry, tenant, line, ())
        self._entries.append(entry)

    def replace(self, tenant: TenantPlan) -> None:
        """Put ``tenant`` in the place of the tenant of the same slug."""
        position = self.position(tenant.slug)
        if position is None:
            raise KeyError(tenant.slug)
        old = self._entries[position]
        if old.tenant is not None:
            self._held_bytes -= old.length
        self._entries[position] = self._entry(tenant)

    def sort(self, key: Callable[[str], Any]) -> None:
        """Reorder the tenants by ``key(slug)`` (stable); nothing is read."""
        self._entries.sort(key=lambda entry: key(entry.slug))
        self._index = None

    def _entry(self, tenant: TenantPlan) -> _Entry:
        from t4o_reconcile.engine.document import tenant_line

        entry = _Entry(tenant)
        secrets: list[object] = []
        line = tenant_line(tenant, on_secret=secrets.append)
        self._place(entry, tenant, line, tuple(secrets))
        return entry

    def _place(
        self, entry: _Entry, tenant: TenantPlan, line: bytes, secrets: tuple[object, ...]
    ) -> None:
        if self._file is None and self._held_bytes + len(line) <= self._budget:
            entry.length = len(line)
            self._held_bytes += len(line)
            return
        # Spilled: from here on every tenant goes to disk, so a plan's order of held and
        # spilled tenants never matters to its memory.
        if self._file is None:
            self._file = tempfile.TemporaryFile(prefix="t4o-plan-")  # noqa: SIM115
            # Unnamed, so the system frees it when it is closed: with the store at latest.
            weakref.finalize(self, self._file.close)
        self._file.seek(self._end)
        self._file.write(line)
        entry.tenant = None
        entry.offset, entry.length = self._end, len(line)
        entry.secrets = secrets
        self._end += len(line)

    # -- reading ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[TenantPlan]:
        for entry in self._entries:
            yield self._read(entry)

    def __getitem__(self, position: int) -> TenantPlan:
        return self._read(self._entries[position])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, TenantStore):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        if isinstance(other, list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __deepcopy__(self, memo: dict[int, Any]) -> TenantStore:
        from copy import deepcopy

        return TenantStore((deepcopy(tenant, memo) for tenant in self), budget=self._budget)

    def __repr__(self) -> str:
        spilled = sum(1 for entry in self._entries if entry.tenant is None)
        return f"<TenantStore of {len(self)} tenant(s), {spilled} on disk>"

    def slugs(self) -> list[str]:
        return [entry.slug for entry in self._entries]

    def position(self, slug: str) -> int | None:
        if self._index is None:
            self._index = {entry.slug: i for i, entry in enumerate(self._entries)}
        return self._index.get(slug)

    def get(self, slug: str) -> TenantPlan | None:
        """The tenant of ``slug``, read alone; None when the plan has none."""
        position = self.position(slug)
        return None if position is None else self[position]

    def lines(self) -> Iterator[bytes]:
        """Each tenant's plan-file line (``document.tenant_line``), in order: a spilled
        tenant's is copied, never decoded."""
        from t4o_reconcile.engine.document import tenant_line

        for entry in self._entries:
            if entry.tenant is not None:
                yield tenant_line(entry.tenant)
            else:
                yield self._bytes(entry)

    def spilled(self) -> int:
        """How many tenants are on disk."""
        return sum(1 for entry in self._entries if entry.tenant is None)

    # -- what the plan asks of every tenant, without reading them -----------------------

    def counts(self) -> dict[str, int]:
        totals = dict.fromkeys(_KINDS, 0)
        for entry in self._entries:
            for kind, count in zip(_KINDS, entry.kinds, strict=True):
                totals[kind] += count
        return totals

    def has_actions(self) -> bool:
        return any(any(entry.kinds) for entry in self._entries)

    def with_actions(self) -> int:
        """How many tenants have actions."""
        return sum(1 for entry in self._entries if any(entry.kinds))

    def has_errors(self) -> bool:
        return any(entry.errors for entry in self._entries)

    def error_count(self) -> int:
        return sum(entry.errors for entry in self._entries)

    def size(self, position: int) -> int:
        """How many actions the tenant at ``position`` has."""
        return sum(self._entries[position].kinds)

    def spilled_at(self, position: int) -> bool:
        return self._entries[position].tenant is None

    def deletes(self, position: int) -> int:
        return self._entries[position].kinds[_KINDS.index("delete")]

    def shown(self) -> list[int]:
        """The positions of the tenants worth showing (actions, errors, or deletes that
        need approval); with ``failing_first``'s order when asked."""
        return [
            position
            for position, entry in enumerate(self._entries)
            if any(entry.kinds) or entry.errors or entry.flagged
        ]

    def failing_first(self, positions: list[int]) -> list[int]:
        """``positions`` reordered, stably: errors first, then deletes needing approval."""
        entries = self._entries
        return sorted(positions, key=lambda p: (not entries[p].errors, not entries[p].flagged))

    def flagged_slugs(self) -> list[str]:
        """The tenants whose deletes need approval."""
        return [entry.slug for entry in self._entries if entry.flagged]

    def uncompared(self) -> list[str]:
        """Every tenant's secrets not compared (plan --without-secrets), in order."""
        return [u for entry in self._entries for u in entry.uncompared]

    def partial(self) -> bool:
        return any(entry.uncompared for entry in self._entries)

    # -- the disk -----------------------------------------------------------------------

    def _bytes(self, entry: _Entry) -> bytes:
        assert self._file is not None  # a spilled entry has its file
        self._file.seek(entry.offset)
        return self._file.read(entry.length)

    def _read(self, entry: _Entry) -> TenantPlan:
        if entry.tenant is not None:
            return entry.tenant
        from t4o_reconcile.engine.document import tenant_from_line

        tenant = tenant_from_line(self._bytes(entry))
        if entry.secrets:
            tenant = _with_secrets(tenant, iter(entry.secrets))
        return tenant

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _with_secrets(tenant: TenantPlan, secrets: Iterator[object]) -> TenantPlan:
    """``tenant`` read from its line, each secret's reference replaced by the value it
    was written from (in the order ``document.tenant_line`` met them)."""
    from t4o_reconcile.engine.sensitive import SavedSecret

    def restore(value: Any) -> Any:
        if isinstance(value, SavedSecret):
            return next(secrets)
        if isinstance(value, dict):
            return {key: restore(item) for key, item in value.items()}
        if isinstance(value, list):
            return [restore(item) for item in value]
        return value

    def action(one: Action) -> Action:
        before = restore(one.before)  # the order the line holds them in
        return replace(one, before=before, after=restore(one.after))

    return replace(tenant, actions=tuple(action(one) for one in tenant.actions))
