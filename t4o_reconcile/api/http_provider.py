"""``HttpProvider``: the t4o API as a Provider (engine/provider.py).

It reads live snapshots through the paged bulk read and turns each plan action into one
write (plus, where the API's rules demand it, a read to learn versions the server changed
by itself). Every write carries ``If-Match`` or an ``Idempotency-Key``, so the client may
retry it; a 412 is checked against a fresh read before it counts as a conflict.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import re
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterable, Iterator, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import quote

from t4o_reconcile.api import live_snapshot as convert
from t4o_reconcile.api.client import (
    ApiClient,
    RetryPolicy,
    answer_json,
    if_match,
    snippet,
    version_of,
)
from t4o_reconcile.api.comparing import Comparer
from t4o_reconcile.api.target import DEFAULT_SANDBOX_DB
from t4o_reconcile.engine import sections
from t4o_reconcile.engine.compare import same
from t4o_reconcile.engine.plan import AGREEMENTS, WHOLE_TENANT, Action, address, versions_of
from t4o_reconcile.engine.provider import ActionResult, ExecutionContext, ProviderTarget
from t4o_reconcile.engine.snapshot import Fingerprint, Item, Secret, Snapshot, TenantSnapshot
from t4o_reconcile.errors import ApiError, UnexpectedAnswer, UnsafePathError
from t4o_reconcile.vocabulary import SLUG_PATTERN, Vocabulary

if TYPE_CHECKING:
    from t4o_reconcile.api.history import AuditRecord, DistributionRecord
    from t4o_reconcile.engine.attribution import LiveChange

PAGE_LIMIT = 100
# Tenants per bulk request when the slugs are known: small enough that the server builds
# one chunk while the client converts another, large enough to keep requests few.
BULK_CHUNK = 25
# Bulk chunks fetched ahead of a streaming reader (400 tenants): enough to keep the
# connections busy, few enough that a reader slower than the API holds little.
READ_AHEAD = 16

Fields = dict[str, Any]
Versions = dict[str, str]  # address -> version
# Fields the API computes besides each section's read-only ones; never sent.
_READ_ONLY = frozenset({"version"})
_IDENTITY = sections.Identity.name
_MEMBERSHIP = sections.AgreementMembership.name
_USERS = sections.Users.name


def wire(value: Any) -> Any:
    """A plan value as JSON for the API: a Secret becomes its value (only here)."""
    if isinstance(value, Secret):
        return value.value
    if isinstance(value, Mapping):
        out = {str(k): wire(v) for k, v in value.items() if not isinstance(v, Fingerprint)}
        for key, inner in value.items():
            if isinstance(inner, Secret) and inner.source and _sourced(key):
                # The reference, never the value: a later plan shows where it now comes from.
                out[f"{key}_source"] = inner.source
        return out
    if isinstance(value, list | tuple):
        return [wire(v) for v in value]
    return value


def _sourced(name: str) -> bool:
    """A secret field whose reference the API keeps beside it (``<name>_source``)."""
    return any(name in secrets for secrets in sections.SECRET_FIELDS.values())


def holds(want: Any, have: Any) -> bool:
    """Whether the live value already holds the desired one (only fields desired names).
    A secret the API was not asked about is not known to be held."""
    if isinstance(want, Mapping):
        return isinstance(have, Mapping) and all(
            holds(value, have.get(key)) for key, value in want.items()
        )
    if isinstance(want, Secret) and isinstance(have, Fingerprint) and not have.compared:
        return False
    return same(want, have)


# Characters that would end a path segment, or that a server or proxy might treat as if
# they did; a value holding one is refused, not encoded.
_SLUG = re.compile(SLUG_PATTERN)
_UNSAFE_IN_SEGMENT = re.compile(r"[/\\\x00-\x1f\x7f]")


def segment(value: str) -> str:
    """``value`` as exactly one percent-encoded URL path segment.

    A value that could become more or less than one segment (``/``, ``\\``, a control
    character, empty, ``.`` or ``..``) raises ``UnsafePathError``: encoding alone is not
    enough, since servers decode ``%2F`` before routing.
    """
    if not isinstance(value, str) or value.strip(".") == "" or _UNSAFE_IN_SEGMENT.search(value):
        raise UnsafePathError(
            f"refusing to use {value!r} as a URL path segment: expected one segment without"
            " '/', '\\', control characters or dot segments"
        )
    return quote(value, safe="@")


def tenant_path(slug: str) -> str:
    return f"/v1/tenants/{segment(slug)}"


def key_segments(section: str, key: str) -> list[str]:
    """The path segments of an item's key: one per key field (kind, language)."""
    try:
        parts = sections.get(section).key_parts(key)
    except ValueError as exc:
        raise UnsafePathError(f"refusing {exc}") from None
    return [segment(part) for part in parts]


def resource_path(tenant: str | None, section: str, key: str) -> str:
    """The URL path of the resource an action writes; never outside its tenant."""
    if tenant is None or section == AGREEMENTS:
        return f"/v1/agreements/{segment(key)}"
    base = tenant_path(tenant)
    if section == WHOLE_TENANT:
        return base
    declared = sections.REGISTRY.get(section)
    if declared is None:
        raise ValueError(f"unknown section {section!r} in action for {tenant}")
    if declared.part_of_tenant:
        return base
    if declared.singleton:
        return f"{base}/{declared.api_path}"
    parts = key_segments(section, key)
    path = f"{base}/{declared.api_path}/" + "/".join(parts)
    # Defence in depth: whatever the segments held, the path stays in this tenant.
    if not path.startswith(base + "/") or path.count("/") != base.count("/") + 1 + len(parts):
        raise UnsafePathError(f"refusing {path!r}: it leaves tenant {tenant!r}")
    return path


def collection_path(tenant: str | None, section: str) -> str:
    """Where a section's items are created (a singleton: the resource itself)."""
    if tenant is None or section == AGREEMENTS:
        return "/v1/agreements"
    return f"{tenant_path(tenant)}/{sections.get(section).api_path}"


def _agreement_fields(data: Mapping[str, Any]) -> Fields:
    return convert.agreements_snapshot([data])[str(data["name"]).strip()].fields


# section -> fields of the resource's JSON as the engine sees them; for the 412 re-check.
# The tenant resource's sections, the invoicing settings and the memberships have readers
# of their own; every other section is read by its declaration (``reader``).
READERS: dict[str, Callable[[Mapping[str, Any]], Fields]] = {
    sections.Identity.name: convert.identity_fields,
    sections.Defaults.name: convert.defaults_fields,
    sections.Billing.name: convert.billing_fields,
    sections.Invoicing.name: convert.invoicing_fields,
    _MEMBERSHIP: lambda data: {"name": data.get(convert.AGREEMENT_FIELD)},
    AGREEMENTS: _agreement_fields,
}


def reader(section: str) -> Callable[[Mapping[str, Any]], Fields] | None:
    """The fields of one API object of ``section`` as the engine sees them; None: the
    section has no object of its own to read."""
    if section in READERS:
        return READERS[section]
    return convert.reader(section) if section in sections.REGISTRY else None


class HttpProvider:
    """The t4o API (remote or the embedded sandbox) as a Provider."""

    def __init__(
        self,
        client: ApiClient,
        *,
        target: str,
        on_close: Callable[[], None] | None = None,
        endpoint: str | None = None,
    ) -> None:
        self._client = client
        self._target = target
        self._endpoint = endpoint or target
        self._on_close = on_close
        # What the last read (and this run's own writes) showed, per tenant: the owner to
        # invite users as, the live items to merge nested PATCH bodies with, and the
        # bank accounts to compare radio-flag side effects against.
        self._live: dict[str, TenantSnapshot] = {}
        self._owners: dict[str, str] = {}
        # GET /v1/whoami, asked once: the identity a plan records, and whether the token
        # may compare secrets (a read-only one may not).
        self._who: asyncio.Future[Any] | None = None
        self._comparer = Comparer(
            client, self._may_compare, lambda slug: f"{tenant_path(slug)}/fingerprints:compare"
        )

    @classmethod
    def from_target(cls, target: ProviderTarget) -> Self:
        """The t4o API at ``target.url``, or the embedded sandbox over ``local_state``."""
        retry = RetryPolicy(deadline=target.deadline)
        if target.url is None:
            from t4o_reconcile.api.embedded import (
                EMBEDDED_BASE_URL,
                embedded_transport,
                local_token,
            )

            db_path = target.local_state or DEFAULT_SANDBOX_DB
            token = local_token(db_path)
            transport, close_app = embedded_transport(db_path)
            client = ApiClient(
                EMBEDDED_BASE_URL,
                token,
                transport=transport,
                parallelism=target.parallelism,
                retry=retry,
                rate_limit=target.rate_limit,
            )
            return cls(client, target=target.name, on_close=close_app, endpoint=target.endpoint)
        client = ApiClient(
            target.url,
            target.token,
            parallelism=target.parallelism,
            retry=retry,
            timeout=target.timeout,
            rate_limit=target.rate_limit,
        )
        return cls(client, target=target.name, endpoint=target.endpoint)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    @property
    def target(self) -> str:
        return self._target

    @property
    def endpoint(self) -> str:
        """The API itself, without any token hint: a saved plan records it."""
        return self._endpoint

    async def _whoami_answer(self) -> Any:
        if self._who is None:
            self._who = asyncio.ensure_future(self._client.get_json("/v1/whoami"))
        try:
            return await asyncio.shield(self._who)
        except Exception:
            # A failed answer is not kept, or every later plan of this provider would
            # fail with it: the next caller asks again.
            self._who = None
            raise

    async def whoami(self) -> str:
        """The identity behind the token: ``partner`` or ``partner/tenant``."""
        data = await self._whoami_answer()
        partner = data.get("partner") if isinstance(data, dict) else None
        tenant = data.get("tenant") if isinstance(data, dict) else None
        if not isinstance(partner, str) or not (tenant is None or isinstance(tenant, str)):
            raise UnexpectedAnswer("expected {partner, tenant}", method="GET", path="/v1/whoami")
        return partner if tenant is None else f"{partner}/{tenant}"

    @property
    def client(self) -> ApiClient:
        return self._client

    # -- logs --------------------------------------------------------------------------

    async def audit_log(self, slug: str, since: datetime | None = None) -> list[AuditRecord]:
        """Who changed what in the tenant, when: oldest first, at or after ``since``."""
        from t4o_reconcile.api.history import audit_log

        return await audit_log(self._client, f"{tenant_path(slug)}/audit-log", since)

    async def distribution_log(
        self, slug: str, since: datetime | None = None
    ) -> list[DistributionRecord]:
        """The tenant's issued invoices and how each was distributed, oldest first."""
        from t4o_reconcile.api.history import distribution_log

        return await distribution_log(self._client, f"{tenant_path(slug)}/distribution-log", since)

    async def live_changes(
        self, slug: str, wanted: Mapping[tuple[str, str], tuple[str, ...]]
    ) -> list[LiveChange]:
        """The logged changes of the wanted resources of ``slug``, newest first: read back
        until each resource's newest change that touched the wanted paths is found, or
        ``MAX_ENTRIES`` entries were read."""
        from t4o_reconcile.api import history
        from t4o_reconcile.engine.attribution import touches

        found: list[LiveChange] = []
        missing = set(wanted)
        path = f"{tenant_path(slug)}/audit-log"
        async with contextlib.aclosing(history.newest_changes(self._client, path)) as records:
            read = 0
            async for record in records:
                for change in history.live_changes(record, reader, wanted):
                    found.append(change)
                    if touches(change, wanted[(change.section, change.key)]):
                        missing.discard((change.section, change.key))
                read += 1
                if not missing or read >= history.MAX_ENTRIES:
                    break
        return found

    async def aclose(self) -> None:
        await self._client.aclose()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    # -- reads -------------------------------------------------------------------------

    async def read(self, slugs: Iterable[str] | None = None) -> Snapshot:
        shared, tenants = await asyncio.gather(self.read_shared(), self._read_all(slugs))
        for tenant in tenants:
            shared.tenants[tenant.slug] = tenant
            self.adopt(tenant)
        return shared

    async def _read_all(self, slugs: Iterable[str] | None) -> list[TenantSnapshot]:
        async with contextlib.aclosing(self.read_tenants(slugs)) as tenants:
            return [tenant async for tenant in tenants]

    async def read_shared(self) -> Snapshot:
        """The live agreements and vocabulary, without tenants."""
        with _shape_checked("/v1/agreements"):
            agreements, vocabulary = await asyncio.gather(
                self._collect("/v1/agreements"), self.vocabulary()
            )
            return Snapshot(
                agreements=convert.agreements_snapshot(agreements), vocabulary=vocabulary
            )

    async def read_tenants(
        self, slugs: Iterable[str] | None = None
    ) -> AsyncGenerator[TenantSnapshot, None]:
        """Each named tenant (every visible one when None), in the API's order, fetched in
        chunks at most ``READ_AHEAD`` chunks ahead of the caller: a reader that plans each
        tenant as it comes never holds the live state of all of them. Nothing is kept
        here; ``adopt`` the tenants a later ``execute`` writes to."""
        chosen = None if slugs is None else set(slugs)
        fetches: collections.deque[asyncio.Task[list[TenantSnapshot]]] = collections.deque()
        seen: set[str] = set()

        def wanted(tenants: list[TenantSnapshot]) -> Iterator[TenantSnapshot]:
            for tenant in tenants:
                if tenant.slug in seen:
                    # Once planned, a second copy would look unmanaged (and be deleted
                    # with --delete-unmanaged): an answer like that is refused.
                    raise UnexpectedAnswer(
                        f"the API sent tenant {tenant.slug} twice",
                        method="GET",
                        path="/v1/bulk/tenants",
                    )
                seen.add(tenant.slug)
                if chosen is None or tenant.slug in chosen:
                    yield tenant

        try:
            async for chunk in self._chunks(chosen):
                fetches.append(asyncio.create_task(self._bulk(chunk)))
                while len(fetches) > READ_AHEAD:
                    for tenant in wanted(await fetches.popleft()):
                        yield tenant
            while fetches:
                for tenant in wanted(await fetches.popleft()):
                    yield tenant
        finally:
            for fetch in fetches:
                fetch.cancel()
            await asyncio.gather(*fetches, return_exceptions=True)

    async def _chunks(self, chosen: set[str] | None) -> AsyncIterator[list[str]]:
        """Slugs in bulk-sized chunks. Listing every tenant is a light page; the heavy
        bulk pages of the slugs already listed are fetched meanwhile."""
        if chosen is not None:
            wanted = sorted(chosen)
            for i in range(0, len(wanted), BULK_CHUNK):
                yield wanted[i : i + BULK_CHUNK]
            return
        async for page in self._client.pages("/v1/tenants", limit=PAGE_LIMIT):
            with _shape_checked("/v1/tenants"):
                listed = [str(item["slug"]) for item in page]
            for i in range(0, len(listed), BULK_CHUNK):
                yield listed[i : i + BULK_CHUNK]

    def adopt(self, tenant: TenantSnapshot) -> None:
        """Keep ``tenant``'s live state for the writes that follow: the owner to invite
        users as, the items to merge nested bodies with, radio-flag side effects."""
        self._live[tenant.slug] = tenant
        for item in tenant.sections.get(_USERS, {}).values():
            if item.fields.get("role") == "owner":
                self._owners[tenant.slug] = str(item.fields["email"])

    async def vocabulary(self) -> Vocabulary | None:
        """The names the API accepts (merge fields, languages, PDF templates); None from
        an API without the list (404), whose names plan then cannot check."""
        try:
            answer = await self._client.get_json(convert.VOCABULARY_PATH)
        except ApiError as exc:
            if exc.status == 404 and not isinstance(exc, UnexpectedAnswer):
                return None
            raise
        return convert.vocabulary_of(answer)

    async def _collect(self, path: str, params: Mapping[str, str] | None = None) -> list[Any]:
        return [item async for item in self._client.paginate(path, params, limit=PAGE_LIMIT)]

    async def _bulk(self, slugs: list[str]) -> list[TenantSnapshot]:
        """One chunk of tenants as snapshots, converted as soon as it arrives: the API's
        JSON of a chunk is dropped before the next is read, never held for all tenants."""
        tenants = []
        for config in await self._collect("/v1/bulk/tenants", {"slugs": ",".join(slugs)}):
            with _shape_checked("/v1/bulk/tenants"):
                tenant = convert.tenant_snapshot(config)
            if not isinstance(tenant.slug, str) or not _SLUG.fullmatch(tenant.slug):
                raise UnexpectedAnswer(
                    f"the API sent a tenant slug {snippet(str(tenant.slug), 60)!r}, which is"
                    " not a slug",
                    method="GET",
                    path="/v1/bulk/tenants",
                )
            tenants.append(tenant)
        return tenants

    def release(self, slug: str) -> None:
        """Apply is done with ``slug``: its live state and owner are not needed again (at
        10,000 tenants created, 200 MB of them)."""
        self._live.pop(slug, None)
        self._owners.pop(slug, None)

    def _known(self, tenant: str, section: str, key: str) -> Item | None:
        live = self._live.get(tenant)
        return None if live is None else live.sections.get(section, {}).get(key)

    def _note(self, tenant: str | None, section: str, key: str, fields: Fields | None) -> None:
        """Keep the cached live view in step with this run's own writes."""
        if tenant is None or tenant not in self._live:
            return
        items = self._live[tenant].sections.setdefault(section, {})
        if fields is None:
            items.pop(key, None)
        else:
            items[key] = Item(fields)

    # -- secrets -----------------------------------------------------------------------

    async def compare_secrets(self, want: TenantSnapshot, have: TenantSnapshot) -> None:
        """Ask the API whether each desired secret of the tenant is the one it stores, and
        lay the answers on ``have`` (``api.comparing``: many tenants a call). Nothing is
        asked with a read-only token (the secrets stay not compared), nor of an API
        without the call."""
        await self._comparer.compare(want, have)

    async def _may_compare(self) -> bool:
        answer = await self._whoami_answer()
        return not (isinstance(answer, Mapping) and answer.get("read_only") is True)

    # -- writes ------------------------------------------------------------------------

    async def execute(self, action: Action, context: ExecutionContext) -> ActionResult:
        # The versions this write teaches (its own and those the server changed on the
        # side) travel back in the result; the executor keeps the run's map.
        learned: Versions = {}
        result = await self._execute(action, context, learned)
        result.versions = learned
        return result

    async def _execute(
        self, action: Action, context: ExecutionContext, learned: Versions
    ) -> ActionResult:
        try:
            version, message = await self._write(action, context, learned)
        except ApiError as error:
            if error.status == 412:
                return await self._after_conflict(action, context, learned)
            if error.status == 404 and action.kind == "delete":
                # A retried delete that had committed, or someone else was faster: either
                # way the resource is gone, as the plan wants.
                return ActionResult(action.address, "applied", message="already gone")
            return ActionResult(action.address, "failed", message=str(error))
        except (ValueError, KeyError) as error:
            return ActionResult(action.address, "failed", message=f"cannot apply: {error}")
        if version is not None:
            learned[action.address] = version
        return ActionResult(action.address, "applied", message=message, new_version=version)

    async def _write(
        self, action: Action, context: ExecutionContext, learned: Versions
    ) -> tuple[str | None, str]:
        section = action.section
        if section == WHOLE_TENANT:
            if action.kind == "create":
                return await self._create_tenant(action, context, learned), ""
            if action.kind == "delete":
                await self._delete(action, context)
                self._live.pop(str(action.tenant), None)
                return None, ""
        elif section in sections.TENANT_RESOURCE:
            if action.kind == "update":
                return await self._update_tenant(action, context, learned), ""
        elif section == _MEMBERSHIP:
            if action.kind in ("move", "update"):
                return await self._move(action, context), ""
        elif action.kind == "create":
            return await self._create(action, context, learned), ""
        elif action.kind == "update":
            return await self._update(action, context, learned), ""
        elif action.kind == "delete":
            await self._delete(action, context)
            self._note(action.tenant, section, action.key, None)
            return None, ""
        raise ValueError(f"no {action.kind} for section {section!r} ({action.address})")

    def _if_match(self, action: Action, context: ExecutionContext, *aliases: str) -> str:
        for name in (action.address, *aliases):
            if name in context.versions:
                return if_match(context.versions[name])
        if action.version is not None:
            return if_match(action.version)
        raise ValueError(f"no version known for {action.address}; run plan again")

    async def _create_tenant(
        self, action: Action, context: ExecutionContext, learned: Versions
    ) -> str | None:
        slug = str(action.tenant)
        response = await self._client.request(
            "POST",
            "/v1/tenants",
            json=wire(_tenant_body(slug, action.after or {})),
            idempotency_key=context.idempotency_key,
        )
        # The API made more than the tenant (invoicing, membership, the owner): learn
        # their versions so the plan's follow-up writes can send If-Match. The answer
        # carries them as `config`; an API that does not is asked once more.
        created = answer_json(response)
        config = created.get("config") if isinstance(created, Mapping) else None
        if not isinstance(config, Mapping) or config.get("slug") != slug:
            config = await self._client.get_json(f"{tenant_path(slug)}/config")
        tenant = convert.tenant_snapshot(config)
        self.adopt(tenant)
        learned.update(versions_of(tenant))
        version = tenant.sections[_IDENTITY][""].version
        if version is not None:
            learned[slug] = version
        return version

    async def _update_tenant(
        self, action: Action, context: ExecutionContext, learned: Versions
    ) -> str | None:
        slug = str(action.tenant)
        after = action.after or {}
        if action.section == _IDENTITY:
            body = {
                k: v
                for k, v in after.items()
                if k not in _READ_ONLY and k not in sections.READ_ONLY and k != "slug"
            }
        else:
            # defaults and billing are nested objects of the tenant: send them whole so
            # a field the plan does not touch is kept, whatever the server's merge rule.
            known = self._known(slug, action.section, "")
            current = dict(known.fields) if known is not None else {}
            if not current:
                tenant = await self._client.get_json(tenant_path(slug))
                current = READERS[action.section](tenant)
            body = {action.section: {**current, **after}}
        response = await self._client.request(
            "PATCH",
            tenant_path(slug),
            json=wire(body),
            if_match=self._if_match(action, context, *_tenant_aliases(slug)),
        )
        version = version_of(response)
        if version is not None:
            for name in _tenant_aliases(slug):
                learned[name] = version
        data = answer_json(response) if response.content else {}
        if isinstance(data, Mapping) and data:
            for section in sections.TENANT_RESOURCE:
                self._note(slug, section, "", READERS[section](data))
        return version

    async def _move(self, action: Action, context: ExecutionContext) -> str | None:
        slug = str(action.tenant)
        name = (action.after or {}).get("name")
        response = await self._client.request(
            "PUT",
            f"{tenant_path(slug)}/agreement",
            json={convert.AGREEMENT_FIELD: name},
            if_match=self._if_match(action, context),
        )
        return version_of(response)

    async def _create(
        self, action: Action, context: ExecutionContext, learned: Versions
    ) -> str | None:
        body = _writable(action.after or {})
        if action.section == _USERS:
            body["invited_by"] = await self._owner(str(action.tenant))
        response = await self._client.request(
            "POST",
            collection_path(action.tenant, action.section),
            json=wire(body),
            idempotency_key=context.idempotency_key,
        )
        await self._after_item_write(action, context, answer_json(response), learned)
        return version_of(response)

    async def _update(
        self, action: Action, context: ExecutionContext, learned: Versions
    ) -> str | None:
        declared = sections.REGISTRY.get(action.section)
        keys = declared.key_fields if declared is not None else ()
        body = {k: v for k, v in _writable(action.after or {}).items() if k not in keys}
        if action.section == AGREEMENTS:
            body.pop("name", None)
        if action.section == _USERS:
            # The acting user: the owner may always change users and their rights.
            body["changed_by"] = await self._owner(str(action.tenant))
        response = await self._client.request(
            "PATCH",
            resource_path(action.tenant, action.section, action.key),
            json=wire(body),
            if_match=self._if_match(action, context),
        )
        await self._after_item_write(action, context, answer_json(response), learned)
        return version_of(response)

    async def _delete(self, action: Action, context: ExecutionContext) -> None:
        aliases = _tenant_aliases(str(action.tenant)) if action.section == WHOLE_TENANT else ()
        await self._client.request(
            "DELETE",
            resource_path(action.tenant, action.section, action.key),
            if_match=self._if_match(action, context, *aliases),
        )

    async def _owner(self, slug: str) -> str:
        """Who invites: the tenant's owner, from the last read or asked for now."""
        if slug not in self._owners:
            for user in await self._collect(f"{tenant_path(slug)}/users"):
                if user.get("role") == "owner":
                    self._owners[slug] = str(user["email"])
        if slug not in self._owners:
            raise ValueError(f"tenant {slug} has no owner to send the invitation as")
        return self._owners[slug]

    async def _after_item_write(
        self, action: Action, context: ExecutionContext, data: Any, learned: Versions
    ) -> None:
        """Learn the versions the server bumped when a radio flag moved to this item.

        An item (a bank account) that lost the flag has a new version. It is recorded
        only when the item otherwise still looks as the plan saw it; if someone else
        changed it, the old version stays and the plan's own write to it fails with 412,
        as it should.
        """
        section = action.section
        read = reader(section)
        if isinstance(data, Mapping) and read is not None:
            self._note(action.tenant, section, action.key, read(data))
        declared = sections.REGISTRY.get(section)
        if declared is None or not declared.radio_flags or action.tenant is None:
            return
        after = action.after or {}
        moved = [flag for flag in declared.radio_flags if after.get(flag) is True]
        if not moved:
            return
        slug = action.tenant
        # The answer names the items the write changed on the side (`also_changed`);
        # an API that does not is listed again.
        also_changed = data.get("also_changed") if isinstance(data, Mapping) else None
        if not isinstance(also_changed, list):
            also_changed = await self._collect(collection_path(slug, section))
        relisted = convert.collection(
            section, [item for item in also_changed if isinstance(item, Mapping)]
        )
        for key, item in relisted.items():
            if key == action.key:
                continue
            name = address(slug, section, key)
            seen = self._known(slug, section, key)
            old_version = context.versions.get(name, seen.version if seen else None)
            if seen is None or item.version == old_version:
                continue
            expected = dict(seen.fields)
            for flag in moved:
                if expected.get(flag) is True:
                    expected[flag] = False
            if all(same(value, item.fields.get(field)) for field, value in expected.items()):
                if item.version is not None:
                    learned[name] = item.version
                self._note(slug, section, key, item.fields)
                self._live[slug].sections[section][key].version = item.version

    async def _after_conflict(
        self, action: Action, context: ExecutionContext, learned: Versions
    ) -> ActionResult:
        """A 412: maybe our own earlier attempt committed before its answer was lost."""
        conflict = ActionResult(
            action.address,
            "failed",
            message=f"{action.address} changed since the plan was made; run plan again",
            conflict=True,
        )
        path = resource_path(action.tenant, action.section, action.key)
        try:
            response = await self._client.request("GET", path)
        except ApiError as error:
            if error.status == 404 and action.kind == "delete":
                return ActionResult(action.address, "applied", message="already gone")
            return conflict
        read = reader(action.section)
        if action.kind == "delete" or read is None:
            return conflict
        data = answer_json(response)
        if not isinstance(data, Mapping) or not holds(action.after or {}, read(data)):
            return conflict
        version = version_of(response)
        if version is not None:
            names = (
                _tenant_aliases(str(action.tenant))
                if action.section in sections.TENANT_RESOURCE
                else ()
            )
            for name in (action.address, *names):
                learned[name] = version
        return ActionResult(
            action.address, "applied", message="already applied", new_version=version
        )


def _tenant_body(slug: str, after: Mapping[str, Any]) -> Fields:
    """The create of a tenant: its identity, the sections made with it, its owner."""
    body: Fields = {"slug": slug}
    for name in sections.get(_IDENTITY).fields:
        if name in after:
            body[name] = after[name]
    for section in sections.each():
        made_here = section.name in (_IDENTITY, _MEMBERSHIP)  # above and below
        if section.created_with_tenant and not made_here and after.get(section.name) is not None:
            body[section.name] = _writable(after[section.name])
    if after.get(_MEMBERSHIP) is not None:
        body[convert.AGREEMENT_FIELD] = after[_MEMBERSHIP]
    owner = after.get("owner")
    if not isinstance(owner, Mapping) or not owner.get("email"):
        raise ValueError(f"a new tenant needs its owner (email, name): {slug}")
    body["owner"] = {"email": owner["email"], "name": owner.get("name")}
    if isinstance(owner.get("programs"), Mapping):
        body["owner"]["programs"] = dict(owner["programs"])
    if owner.get("custom_invoice_email") is True:
        body["owner"]["custom_invoice_email"] = True
    return body


def _writable(fields: Mapping[str, Any]) -> Fields:
    return {k: v for k, v in fields.items() if k not in _READ_ONLY and k not in sections.READ_ONLY}


def _tenant_aliases(slug: str) -> tuple[str, ...]:
    """Every address that names the tenant resource: one version for all of them."""
    return (slug, *(address(slug, section, "") for section in sections.TENANT_RESOURCE))


@contextlib.contextmanager
def _shape_checked(path: str) -> Iterator[None]:
    """Answers are untrusted: a wrong shape is an error of the API, not a crash."""
    try:
        yield
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise UnexpectedAnswer(
            "the answer does not have the documented shape"
            f" ({type(exc).__name__}: {snippet(str(exc), 80)})",
            method="GET",
            path=path,
        ) from None
