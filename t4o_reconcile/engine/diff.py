"""The keyed diff: two normalised snapshots in, a plan out. No I/O.

Items are matched by key, never by list position; a section the desired side leaves out
is unmanaged and never read into the plan; a section it holds is authoritative.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from t4o_reconcile.engine import plan_errors, sections
from t4o_reconcile.engine import safety as safety_rules
from t4o_reconcile.engine.compare import changed_paths, merged, secret_paths
from t4o_reconcile.engine.order import (
    order_templates,
    sort_agreement_actions,
    sort_tenant_actions,
)
from t4o_reconcile.engine.plan import (
    AGREEMENTS,
    WHOLE_TENANT,
    Action,
    AgreementUsers,
    Plan,
    PlanError,
    TenantPlan,
    address,
    versions_of,
)
from t4o_reconcile.engine.planstore import TenantStore
from t4o_reconcile.engine.secret_destinations import redirected_secrets
from t4o_reconcile.engine.snapshot import Item, SafetyOptions, Snapshot, TenantSnapshot

_MEMBERSHIP = sections.AgreementMembership.name
_USERS = sections.Users.name
_TEMPLATES = sections.EmailTemplates.name


def make_plan(
    desired: Snapshot,
    live: Snapshot,
    *,
    target: str,
    only: set[str] | None = None,
    delete_unmanaged: bool = False,
    safety: SafetyOptions | None = None,
    leaving: set[str] | None = None,
    versions: bool = True,
    agreements: bool | None = None,
    kept_outside: frozenset[str] = frozenset(),
) -> Plan:
    """Everything apply must do to bring ``live`` to ``desired``, in apply order.

    ``only`` restricts the plan to those tenant slugs (``--tenant``); agreement actions
    are then limited to creating agreements those tenants need. Live tenants without a
    desired tenant are listed as unmanaged and deleted only with ``delete_unmanaged``;
    those in ``leaving`` (their files were deleted in the change) are listed as leaving
    management instead, in a targeted plan too. Those in ``kept_outside`` (the operator's
    list of tenants kept outside Git) are listed as such and never deleted. Without
    ``versions`` the tenants' plans leave out the live version of every item read (kept
    only to check a saved plan). ``agreements``: plan the agreements whole (default:
    unless ``only`` narrows the plan).
    """
    planner = Planner(
        target=target,
        live=live,
        only=only,
        delete_unmanaged=delete_unmanaged,
        safety=safety,
        leaving=leaving,
        versions=versions,
        agreements=agreements,
        kept_outside=kept_outside,
    )
    for slug in sorted(desired.tenants.keys() | live.tenants.keys()):
        planner.add(desired.tenants.get(slug), live.tenants.get(slug))
    return planner.finish(desired.agreements)


class Planner:
    """``make_plan`` a tenant at a time, in any order: each tenant's plan is made as soon
    as both of its sides are known, and neither side is kept. What the plan needs across
    tenants (agreement membership, charged accesses, the agreements new tenants join) is
    tallied as they pass, so a plan of 10,000 tenants never holds both snapshots whole.

    ``live`` gives the live agreements and vocabulary; its tenants are not read.
    """

    def __init__(
        self,
        *,
        target: str,
        live: Snapshot,
        only: set[str] | None = None,
        delete_unmanaged: bool = False,
        safety: SafetyOptions | None = None,
        leaving: set[str] | None = None,
        versions: bool = True,
        budget: int | None = None,  # of the plan's TenantStore (None: MEMORY_BUDGET)
        # The agreements planned whole, their live versions recorded; otherwise (a
        # scoped plan that leaves them out) only those the tenants need are created.
        agreements: bool | None = None,
        kept_outside: frozenset[str] = frozenset(),
    ) -> None:
        self._agreements = only is None if agreements is None else agreements
        self._live = Snapshot(agreements=live.agreements, vocabulary=live.vocabulary)
        self._only = only
        self._delete_unmanaged = delete_unmanaged
        self._safety = safety or SafetyOptions()
        self._leaving = leaving or set()
        self._kept_outside = kept_outside
        self._versions = versions
        self.plan = Plan(
            target=target,
            only=sorted(only) if only is not None else None,
            delete_unmanaged=delete_unmanaged,
        )
        self._tenants = TenantStore(budget=budget)
        self._removed: set[str] = set()  # unmanaged tenants deleted: after the managed
        # slug -> the agreement its file names, and the file
        self._joins: dict[str, tuple[str, str | None]] = {}
        self._after: dict[str, str | None] = {}  # live slug -> its agreement after the plan
        self._needed: set[str] = set()  # agreements the planned tenants' actions name
        self._charged = _Charged()

    def add(self, want: TenantSnapshot | None, have: TenantSnapshot | None) -> TenantPlan | None:
        """Plan one tenant (its file's side, its live side, or both): its plan, or None
        when the plan leaves it out (``only``, or an unmanaged tenant left alone)."""
        if want is not None:
            slug = want.slug
            tenant_plan = self._plan_managed(want, have)
        elif have is not None:
            slug = have.slug
            tenant_plan = self._plan_unmanaged(have)
        else:
            raise ValueError("a tenant needs at least one side")
        deleted = tenant_plan is not None and any(
            a.section == WHOLE_TENANT and a.kind == "delete" for a in tenant_plan.actions
        )
        self._charged.add(None if tenant_plan is None else want, have, deleted=deleted)
        if have is not None:
            self._after[slug] = _membership_after(have, tenant_plan)
        if tenant_plan is not None and self._only is not None:
            self._needed.update(_agreements_named(tenant_plan))
        if tenant_plan is not None:
            self._tenants.add(tenant_plan)
        return tenant_plan

    def _plan_managed(self, want: TenantSnapshot, have: TenantSnapshot | None) -> TenantPlan | None:
        slug = want.slug
        if self._only is not None and slug not in self._only:
            return None
        actions: list[Action] = []
        versions: dict[str, str] = {}
        if have is None:
            _plan_new_tenant(want, actions)
        else:
            if self._versions:
                versions = versions_of(have)
            _plan_existing_tenant(want, have, actions)
        name = _membership(want.sections.get(_MEMBERSHIP))
        if name is not None:
            self._joins[slug] = (name, want.source)
        return TenantPlan(
            slug=slug,
            actions=tuple(_in_order(actions, want, have)),
            errors=tuple(plan_errors.tenant_errors(want, have, self._live)),
            deletes_need_flag=(
                *safety_rules.delete_reasons(actions, want, have, want.safety or self._safety),
                *redirected_secrets(actions),
            ),
            versions=versions,
            source=want.source,
            uncompared=tuple(plan_errors.unread_secrets(want, have)),
        )

    def _plan_unmanaged(self, have: TenantSnapshot) -> TenantPlan | None:
        slug = have.slug
        listed = slug in self._kept_outside
        if slug in self._leaving:
            self.plan.leaving.append(slug)
        elif self._only is not None and slug not in self._only:
            return None
        elif not listed:
            self.plan.unmanaged_tenants.append(slug)
        if listed:
            # The operator keeps it outside Git on purpose: never deleted by a plan.
            self.plan.kept_outside.append(slug)
            return None
        if not self._delete_unmanaged:
            return None
        self._removed.add(slug)
        return _plan_tenant_delete(have)

    def finish(self, agreements: dict[str, Item] | None) -> Plan:
        """The plan, once every tenant was added; ``agreements`` are the desired ones
        (None: unmanaged)."""
        plan = self.plan
        removed = self._removed
        self._tenants.sort(key=lambda slug: (slug in removed, slug))
        plan.tenants = self._tenants
        plan.leaving.sort()
        plan.unmanaged_tenants.sort()
        plan.kept_outside.sort()
        live = self._live
        # The one tenant check that needs the desired agreements, which the files give
        # only once all of them are read; it is the last of a tenant's errors.
        known = agreements if agreements is not None else live.agreements
        for slug, (name, source) in sorted(self._joins.items()):
            unknown: list[PlanError] = plan_errors.unknown_agreement(slug, name, known, source)
            planned = self._tenants.get(slug) if unknown else None
            if planned is not None:
                self._tenants.replace(replace(planned, errors=(*planned.errors, *unknown)))
        if live.agreements is not None and self._agreements:
            plan.agreement_versions = {
                address(None, AGREEMENTS, name): item.version
                for name, item in sorted(live.agreements.items())
                if item.version is not None
            }
        actions = _plan_agreements(
            agreements, live.agreements, self._needed, None if self._agreements else self._only
        )
        plan.agreement_actions = sort_agreement_actions(actions)
        plan.errors.extend(plan_errors.agreement_errors(plan.agreement_actions, self._after))
        plan.agreement_users = self._charged.counts(
            set(live.agreements or {}) | set(agreements or {}), partial=self._only is not None
        )
        return plan


def _membership_after(have: TenantSnapshot, tenant_plan: TenantPlan | None) -> str | None:
    """The agreement a live tenant is in once the plan is applied."""
    name = _membership(have.sections.get(_MEMBERSHIP))
    if tenant_plan is not None:
        for action in tenant_plan.actions:
            if action.section == WHOLE_TENANT and action.kind == "delete":
                name = None
            elif action.kind == "move" and action.after is not None:
                moved = action.after.get("name")
                name = moved if isinstance(moved, str) else None
    return name


def _agreements_named(tenant_plan: TenantPlan) -> Iterator[str]:
    for action in tenant_plan.actions:
        if action.after and action.section in (_MEMBERSHIP, WHOLE_TENANT):
            name = action.after.get(_MEMBERSHIP if action.section == WHOLE_TENANT else "name")
            if isinstance(name, str):
                yield name


def _in_order(
    actions: list[Action], want: TenantSnapshot, have: TenantSnapshot | None
) -> list[Action]:
    old_language = plan_errors.main_language(have, None) if have is not None else None
    live = have.sections.get(_TEMPLATES, {}) if have is not None else {}
    wanted = want.sections.get(_TEMPLATES, live)
    return order_templates(
        sort_tenant_actions(actions),
        plan_errors.main_language(want, have),
        old_language,
        {str(item.fields.get("kind")) for item in live.values()},
        {str(item.fields.get("kind")) for item in wanted.values()},
    )


def _plan_existing_tenant(
    want: TenantSnapshot, have: TenantSnapshot, actions: list[Action]
) -> None:
    slug = want.slug
    for name in sections.SECTIONS:
        if name == _MEMBERSHIP:
            continue  # a move, not items: below
        wanted = want.sections.get(name)
        if wanted is None:
            continue  # unmanaged
        actions.extend(diff_section(slug, name, wanted, have.sections.get(name, {})))
    membership = want.sections.get(_MEMBERSHIP)
    if membership is not None:
        move = _agreement_move(slug, membership, have.sections.get(_MEMBERSHIP, {}))
        if move is not None:
            actions.append(move)
    for section in sections.each():
        if section.radio_flags and section.name in want.sections:
            settle_radio_flags(actions, section, want.sections[section.name])


def diff_section(
    slug: str | None, section: str, wanted: dict[str, Item], live: dict[str, Item]
) -> list[Action]:
    """Create, update and delete actions that turn ``live`` items into ``wanted`` ones."""
    actions: list[Action] = []
    floors = sections.get(section).floors if section != AGREEMENTS else ()
    for key, item in wanted.items():
        current = live.get(key)
        if current is None:
            actions.append(create_action(slug, section, key, item.fields, written=item.written))
            continue
        paths = changed_paths(item.fields, current.fields)
        if floors:
            paths = [p for p in paths if not floor_met(p, floors, item.fields, current.fields)]
        if paths:
            actions.append(_update_action(slug, section, key, item, current, paths))
    if section != AGREEMENTS and not sections.get(section).deletable:
        return actions  # part of a resource that always exists: never deleted alone
    for key in sorted(live.keys() - wanted.keys()):
        current = live[key]
        actions.append(
            Action(
                tenant=slug,
                section=section,
                key=key,
                kind="delete",
                before=dict(current.fields),
                after=None,
                sensitive_paths=tuple(secret_paths(current.fields)),
                reason="not in the configuration",
                version=current.version,
                answered=current.written,
            )
        )
    return actions


def floor_met(
    path: str, floors: tuple[str, ...], want: dict[str, Any], have: dict[str, Any]
) -> bool:
    """Whether ``path`` is a counter the live value already meets: the file's value is a
    floor (the product moves the counter on with every invoice or customer), so live at
    or above it is neither a change nor drift, and plan never moves a counter back."""
    if path not in floors:
        return False
    floor, current = want.get(path), have.get(path)
    if isinstance(floor, bool) or isinstance(current, bool):
        return False
    return isinstance(floor, int) and isinstance(current, int) and current >= floor


def create_action(
    slug: str | None,
    section: str,
    key: str,
    fields: dict[str, Any],
    reason: str = "",
    *,
    written: dict[str, str] | None = None,
) -> Action:
    return Action(
        tenant=slug,
        section=section,
        key=key,
        kind="create",
        before=None,
        # The snapshot's own fields, not a copy: nothing changes a planned action's
        # values, and a creating plan of 10,000 tenants would hold 400,000 copies.
        after=fields,
        sensitive_paths=tuple(secret_paths(fields)),
        reason=reason,
        written=written,
    )


def _update_action(
    slug: str | None, section: str, key: str, want: Item, have: Item, paths: list[str]
) -> Action:
    top = list(dict.fromkeys(path.split(".", 1)[0] for path in paths))
    before = {name: have.fields.get(name) for name in top}
    after = {name: merged(want.fields[name], have.fields.get(name)) for name in top}
    return Action(
        tenant=slug,
        section=section,
        key=key,
        kind="update",
        before=before,
        after=after,
        changed_paths=tuple(paths),
        sensitive_paths=tuple(secret_paths(want.fields)),
        version=have.version,
        written=_written_for(want.written, top),
        answered=_written_for(have.written, top),
    )


def _written_for(written: dict[str, str] | None, top: list[str]) -> dict[str, str] | None:
    """The file's forms of the fields an update sends."""
    if not written:
        return None
    kept = {path: text for path, text in written.items() if path.split(".", 1)[0] in top}
    return kept or None


def _agreement_move(slug: str, wanted: dict[str, Item], live: dict[str, Item]) -> Action | None:
    want_name = _membership(wanted)
    current = live.get("")
    have_name = current.fields.get("name") if current is not None else None
    if want_name == have_name:
        return None
    if want_name is None:
        reason = f"leave agreement {have_name}"
    elif have_name is None:
        reason = f"join agreement {want_name}"
    else:
        reason = f"move from agreement {have_name} to {want_name}"
    return Action(
        tenant=slug,
        section=_MEMBERSHIP,
        key="",
        kind="move",
        before={"name": have_name},
        after={"name": want_name},
        changed_paths=("name",),
        reason=reason,
        version=current.version if current is not None else None,
    )


def _membership(items: dict[str, Item] | None) -> str | None:
    if not items or "" not in items:
        return None
    name = items[""].fields.get("name")
    return name if isinstance(name, str) else None


def settle_radio_flags(
    actions: list[Action], section: sections.Section, wanted: dict[str, Item]
) -> None:
    """Drop ``flag: true → false`` changes that the API makes by itself.

    A radio flag cannot be set false directly; setting it true on another account
    clears it everywhere else, so such a change is implied, not sent.
    """
    for flag in section.radio_flags:
        holders = [key for key, item in wanted.items() if item.fields.get(flag) is True]
        if not holders:
            continue  # checks report "no account would hold the flag"
        settled: list[Action] = []
        for action in actions:
            if (
                action.section != section.name
                or action.kind != "update"
                or flag not in action.changed_paths
                or not action.after
                or action.after.get(flag) is not False
            ):
                settled.append(action)
                continue
            paths = tuple(path for path in action.changed_paths if path != flag)
            if not paths:
                continue
            note = f"{flag} moves to {holders[0]} (cleared by the API when set there)"
            settled.append(
                replace(
                    action,
                    changed_paths=paths,
                    after={k: v for k, v in action.after.items() if k != flag},
                    before=None
                    if action.before is None
                    else {k: v for k, v in action.before.items() if k != flag},
                    reason=f"{action.reason}; {note}" if action.reason else note,
                )
            )
        actions[:] = settled


def _plan_new_tenant(want: TenantSnapshot, actions: list[Action]) -> None:
    slug = want.slug
    wanted = want.sections
    after: dict[str, Any] = {"slug": slug}
    identity = wanted.get(_IDENTITY, {}).get("")
    if identity is not None:
        after.update(identity.fields)
    for section in sections.each():
        if section.created_with_tenant and section.name not in (_IDENTITY, _MEMBERSHIP):
            item = wanted.get(section.name, {}).get("")
            if item is not None:
                after[section.name] = dict(item.fields)
    after[_MEMBERSHIP] = _membership(wanted.get(_MEMBERSHIP))
    users = wanted.get(_USERS, {})
    owner_key = next((k for k, u in users.items() if u.fields.get("role") == "owner"), None)
    owner = users[owner_key] if owner_key is not None else None
    after["owner"] = (
        {
            "email": owner.fields.get("email", owner_key),
            "name": owner.fields.get("name"),
            # The API creates the owner with these rights, so a new tenant is one create.
            "programs": merged(owner.fields.get("programs") or {}, _NO_PROGRAMS),
            "custom_invoice_email": owner.fields.get("custom_invoice_email") is True,
        }
        if owner is not None and owner_key is not None
        else None
    )
    actions.append(
        Action(
            tenant=slug,
            section=WHOLE_TENANT,
            key="",
            kind="create",
            before=None,
            after=after,
            sensitive_paths=tuple(secret_paths(after)),
            reason="new tenant",
            written=identity.written if identity is not None else None,
        )
    )
    for section in sections.each():
        if section.created_with_tenant:
            continue
        for key, item in wanted.get(section.name, {}).items():
            if section.name == _USERS and key == owner_key:
                continue
            actions.append(
                create_action(slug, section.name, key, item.fields, written=item.written)
            )


_IDENTITY = sections.Identity.name
_NO_PROGRAMS = sections.Users.missing_means["programs"]


def _plan_tenant_delete(have: TenantSnapshot) -> TenantPlan:
    identity = have.sections.get(_IDENTITY, {}).get("")
    delete = Action(
        tenant=have.slug,
        section=WHOLE_TENANT,
        key="",
        kind="delete",
        before=dict(identity.fields) if identity is not None else {"slug": have.slug},
        after=None,
        sensitive_paths=tuple(secret_paths(identity.fields)) if identity is not None else (),
        reason="unmanaged tenant (no file), deleted by request",
        version=identity.version if identity is not None else None,
    )
    return TenantPlan(
        slug=have.slug,
        actions=(delete,),
        deletes_need_flag=("deletes the whole tenant with all its users and bank accounts",),
        versions=versions_of(have),
    )


def _plan_agreements(
    desired: dict[str, Item] | None,
    live: dict[str, Item] | None,
    needed: set[str],
    only: set[str] | None,
) -> list[Action]:
    if desired is None:
        return []
    actions = diff_section(None, AGREEMENTS, desired, live or {})
    if only is None:
        return actions
    # A partial plan only creates the agreements its own tenants join.
    return [a for a in actions if a.kind == "create" and a.key in needed]


class _Charged:
    """Charged accesses per agreement, before (live) and after the plan, tallied a tenant
    at a time.

    An access is a (user, program) whose right is not "none", counted once per agreement
    whatever the number of its tenants that grant it ("bare bli belastet én gang for hver
    tilgang de har, uansett hvor mange selskaper som er inkludert i avtalen"). An access
    only a pending invitation holds is counted apart: it is charged once accepted.

    After: planned tenants use their desired users and membership where managed, live
    ones otherwise; a user the plan invites is pending (the owner of a new tenant is
    created active); tenants outside the plan keep their live state; deleted ones count
    for nothing.

    An access is held as one int made of its user's number and its program's
    (``_Names``), so the tally keeps each e-mail once however many accesses and sides it
    is in, and two accesses are never taken for one. A tenant whose accesses are the same
    before and after (nearly all of them, nightly) is tallied once, for both sides.
    """

    def __init__(self) -> None:
        self._names = _Names()
        self._both: dict[str, _Accesses] = {}
        self._before: dict[str, _Accesses] = {}
        self._after: dict[str, _Accesses] = {}

    def add(
        self, want: TenantSnapshot | None, have: TenantSnapshot | None, *, deleted: bool
    ) -> None:
        before_name: str | None = None
        before = _Accesses(self._names)
        if have is not None:
            before_name = _membership(have.sections.get(_MEMBERSHIP))
            if before_name is not None:
                users = have.sections.get(_USERS, {})
                before.add(users, users, new_tenant=False)
        after_name: str | None = None
        after = _Accesses(self._names)
        if not deleted:
            after_name, users = _after_membership(want, have)
            if after_name is not None:
                live_users = have.sections.get(_USERS, {}) if have is not None else {}
                after.add(users, live_users, new_tenant=have is None)
        if before_name == after_name and before == after:
            if before_name is not None:
                self._both.setdefault(before_name, _Accesses(self._names)).update(before)
            return
        if before_name is not None:
            self._before.setdefault(before_name, _Accesses(self._names)).update(before)
        if after_name is not None:
            self._after.setdefault(after_name, _Accesses(self._names)).update(after)

    def counts(self, agreements: set[str], *, partial: bool = False) -> list[AgreementUsers]:
        """The figures per agreement; ``partial``: only some of the tenants were tallied
        (a scoped plan), so each figure counts those tenants' accesses only."""
        names = agreements | set(self._both) | set(self._before) | set(self._after)
        empty = _Accesses(self._names)
        result = []
        for name in sorted(names):
            both = self._both.get(name, empty)
            before = both.joined(self._before.get(name, empty))
            after = both.joined(self._after.get(name, empty))
            result.append(
                AgreementUsers(
                    agreement=name,
                    before=len(before.active),
                    after=len(after.active),
                    pending_before=len(before.pending_only()),
                    pending_after=len(after.pending_only()),
                    partial=partial,
                )
            )
        return result


class _Names:
    """A number for each user (by e-mail) and each program: an access is
    ``user * PROGRAMS + program``, exact, and an e-mail is kept once, not per access."""

    PROGRAMS = 1 << 16

    __slots__ = ("programs", "users")

    def __init__(self) -> None:
        self.users: dict[str, int] = {}
        self.programs: dict[str, int] = {}

    def access(self, email: str, program: str) -> int:
        user = self.users.setdefault(email, len(self.users))
        number = self.programs.setdefault(program, len(self.programs))
        if number >= self.PROGRAMS:
            raise ValueError(f"more than {self.PROGRAMS} programs")
        return user * self.PROGRAMS + number


class _Accesses:
    """The (user, program) pairs of an agreement, active and pending (``_Names``)."""

    __slots__ = ("active", "names", "pending")

    def __init__(self, names: _Names) -> None:
        self.names = names
        self.active: set[int] = set()
        self.pending: set[int] = set()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Accesses):
            return NotImplemented
        return self.active == other.active and self.pending == other.pending

    def add(self, users: dict[str, Item], live_users: dict[str, Item], *, new_tenant: bool) -> None:
        for email, user in users.items():
            live = live_users.get(email)
            if live is not None:
                status = live.fields.get("status", "active")
            else:
                owner = user.fields.get("role") == "owner"
                status = "active" if new_tenant and owner else "pending"
            target = self.active if status == "active" else self.pending
            for program, right in (user.fields.get("programs") or {}).items():
                if sections.gives_access(right):
                    target.add(self.names.access(email, str(program)))

    def update(self, other: _Accesses) -> None:
        self.active |= other.active
        self.pending |= other.pending

    def joined(self, other: _Accesses) -> _Accesses:
        if not other.active and not other.pending:
            return self
        joined = _Accesses(self.names)
        joined.active = self.active | other.active
        joined.pending = self.pending | other.pending
        return joined

    def pending_only(self) -> set[int]:
        return self.pending - self.active


def _after_membership(
    want: TenantSnapshot | None, have: TenantSnapshot | None
) -> tuple[str | None, dict[str, Item]]:
    def pick(section: str) -> dict[str, Item]:
        if want is not None and section in want.sections:
            return want.sections[section]
        return have.sections.get(section, {}) if have is not None else {}

    return _membership(pick(_MEMBERSHIP)), pick(_USERS)
