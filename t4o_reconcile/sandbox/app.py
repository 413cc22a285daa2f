"""The FastAPI application of the sandbox: routes of docs/api.md over ``operations``.

Endpoints are async functions that run on the event loop, one at a time: each runs in one
transaction of the store, a few SQLite statements, without a hand-off to a thread pool.
Answers are built as JSON text directly — the response models document the schema (and
schemathesis checks the answers against it) without paying for validating every answer a
second time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from stdnum.no import kontonr

from t4o_reconcile import __version__, normalize
from t4o_reconcile.sandbox import bodies as m
from t4o_reconcile.sandbox import operations as ops
from t4o_reconcile.sandbox import reads, rules
from t4o_reconcile.sandbox.bulk import tenant_configs
from t4o_reconcile.sandbox.catalog import PRODUCT
from t4o_reconcile.sandbox.faults import FaultMiddleware, Faults
from t4o_reconcile.sandbox.reads import decode_cursor
from t4o_reconcile.sandbox.reads import dumps as _dumps
from t4o_reconcile.sandbox.rules import ProblemError
from t4o_reconcile.sandbox.secrets import bulk_compare_answer, compare_answer, shown
from t4o_reconcile.sandbox.store import (
    BANK_ACCOUNTS,
    CONNECTIONS,
    EMAIL_ACCOUNT,
    EMAIL_TEMPLATES,
    USERS,
    Principal,
    Row,
    Store,
    Tx,
    client_of,
)
from t4o_reconcile.vocabulary import Vocabulary

JSON = "application/json"


def _problem_response(exc: ProblemError) -> Response:
    return Response(
        _dumps(exc.body()),
        status_code=exc.rule.status,
        media_type=rules.PROBLEM_MEDIA_TYPE,
        headers=exc.headers,
    )


def _resource(
    data: dict[str, Any], version: int, status: int = 200, *, read_only: bool = False
) -> Response:
    # Every resource answer: a stored secret as its marker, never its fingerprint.
    return Response(
        _dumps(shown(data, read_only)),
        status_code=status,
        media_type=JSON,
        headers={"ETag": ops.etag(version)},
    )


def _row(row: Row, status: int = 200, *, read_only: bool = False) -> Response:
    return _resource(row.out(), row.version, status, read_only=read_only)


def _page(items: list[Any], next_after: str | int | None, key: str = "after") -> Response:
    return Response(reads.page(items, next_after, key), media_type=JSON)


# Paging ----------------------------------------------------------------------------


Limit = Annotated[int, Query(ge=1, le=100, description="Items per page (1..100)")]
Since = Annotated[
    datetime | None,
    Query(description="Only entries at or after this time (ISO 8601; without an offset: UTC)"),
]


def _since(since: datetime | None) -> str:
    """A ``since`` as the logs' own time strings, which sort by time."""
    if since is None:
        return ""
    when = since.replace(tzinfo=UTC) if since.tzinfo is None else since.astimezone(UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", description='Required: the ETag last read, e.g. "3" (else 428)'),
]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=255,
        description="Required on every create; a retry with the same key and body returns"
        " the first answer",
    ),
]


# Auth and per-request context ---------------------------------------------------------

bearer = HTTPBearer(auto_error=False, description="A token from `sandbox token create`")


@dataclass(slots=True)
class Context:
    store: Store
    principal: Principal
    client: str | None = None  # the request's User-Agent: the audit log records it

    @contextmanager
    def read(self) -> Iterator[Tx]:
        with self.store.transaction(self.principal, write=False) as tx:
            yield tx

    @contextmanager
    def write(self) -> Iterator[Tx]:
        self.may_write()
        with self.store.transaction(self.principal, write=True, client=self.client) as tx:
            yield tx

    def may_write(self) -> None:
        if self.principal.read_only:
            raise ProblemError(
                rules.READ_ONLY_TOKEN,
                "Authorization: this token was created with --read-only; it cannot write",
                field="Authorization",
            )

    def create(
        self,
        idempotency: Idempotency,
        make: Callable[[Tx], Row],
        render: Callable[[Tx, Row], dict[str, Any]] | None = None,
    ) -> Response:
        """Run a create once per Idempotency-Key; a retry gets the stored first answer."""
        key = idempotency.key
        if not key:
            raise ProblemError(
                rules.IDEMPOTENCY_KEY_REQUIRED,
                "Idempotency-Key: header required on every create (a unique string per"
                " intended create, sent again only on retries)",
                field="Idempotency-Key",
            )
        # Authorised first (who asks, whether they may write); then the key, which only
        # ever replays this principal's own answer for this same path.
        principal, path = self.principal.actor, idempotency.path
        with self.write() as tx:
            replay = tx.replay(principal, path, key)
            if replay is not None:
                if replay.request != idempotency.digest:
                    raise ProblemError(
                        rules.IDEMPOTENCY_KEY_REUSED,
                        "Idempotency-Key: already used for another request; use a new key"
                        " for a new create",
                        field="Idempotency-Key",
                    )
                headers = {"ETag": replay.etag} if replay.etag else {}
                return Response(
                    replay.body, status_code=replay.status, media_type=JSON, headers=headers
                )
            row = make(tx)
            body = _dumps(render(tx, row) if render else shown(row.out()))
            tx.remember(principal, path, key, idempotency.digest, 201, body, ops.etag(row.version))
        return Response(
            body, status_code=201, media_type=JSON, headers={"ETag": ops.etag(row.version)}
        )


async def context(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Context:
    store: Store = request.app.state.store
    principal = store.authenticate(credentials.credentials) if credentials else None
    if principal is None:
        raise ProblemError(
            rules.UNAUTHENTICATED,
            "Authorization: expected 'Bearer <token>' with a token from"
            " `t4o-reconcile sandbox token create`",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Context(store, principal, client_of(request.headers.get("user-agent")))


@dataclass(frozen=True, slots=True)
class Idempotency:
    key: str | None
    digest: str
    path: str


async def idempotency(request: Request, key: IdempotencyKey = None) -> Idempotency:
    """The key and a digest of the request it was first used with (method, path, body)."""
    raw = await request.body()
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True) if raw else ""
    except ValueError:
        canonical = raw.decode("utf-8", "replace")
    text = f"{request.method} {request.url.path}\n{canonical}"
    return Idempotency(key, hashlib.sha256(text.encode()).hexdigest(), request.url.path)


Ctx = Annotated[Context, Depends(context)]
Idem = Annotated[Idempotency, Depends(idempotency)]

# Documented answers ------------------------------------------------------------------

_PROBLEM_TEXT = {
    400: "Idempotency-Key missing",
    401: "No token or an unknown one",
    403: "Not allowed for this token or user",
    404: "Not found (also another partner's tenant)",
    409: "A rule of the domain refuses the change",
    412: "If-Match is not the current version",
    422: "The body or a parameter does not match the schema, or a rule refuses a value",
    428: "If-Match missing",
    429: "Rate limit exceeded; see Retry-After",
    500: "Internal error (or an injected fault)",
    503: "Unavailable (or an injected fault; a write may have been committed)",
}


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "description": _PROBLEM_TEXT[code],
            "content": {
                rules.PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
            },
        }
        for code in sorted({401, 404, 422, 429, 500, 503, *codes})
    }


READ = _problems()
LIST = _problems()
CREATE = _problems(400, 403, 409)
UPDATE = _problems(403, 409, 412, 428)
HELPER = _problems(403, 409)

_UNSAFE_PARAM = re.compile(r"[/\\\x00-\x1f\x7f]")
_ENCODED_SEPARATOR = re.compile(rb"%(2f|5c|00)", re.IGNORECASE)


_DOT_SEGMENT = re.compile(rb"(^|/)(\.|%2e){1,2}(/|$)", re.IGNORECASE)
_SEGMENT_RULE = "expected one path segment without '/', '\\', control characters or dot segments"


class SegmentGuard:
    """Refuses, before routing, a path whose raw form holds an encoded separator or a dot
    segment: routing decodes ``%2F`` into ``/``, and a key must never become two segments."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raw = (
            scope.get("raw_path") or scope.get("path", "").encode()
            if scope["type"] == "http"
            else b""
        )
        if raw and (_ENCODED_SEPARATOR.search(raw) or _DOT_SEGMENT.search(raw)):
            problem = ProblemError(rules.INVALID_REQUEST, f"path: {_SEGMENT_RULE}", field="path")
            await _problem_response(problem)(scope, receive, send)
            return
        await self.app(scope, receive, send)


MAX_BODY_BYTES = 1 << 20


class BodyLimit:
    """Answers 413 to a request body over ``MAX_BODY_BYTES``, declared or streamed, before
    anything parses it; a body within the limit is handed on unchanged."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            size += len(message.get("body", b""))
            if size > MAX_BODY_BYTES:
                await self._refuse(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)

    async def _refuse(self, scope: Any, receive: Any, send: Any) -> None:
        problem = ProblemError(
            rules.BODY_TOO_LARGE,
            f"body: over {MAX_BODY_BYTES} bytes; send fewer items per request",
            field="body",
        )
        await _problem_response(problem)(scope, receive, send)


def _replay(messages: list[Any], receive: Any) -> Any:
    async def replayed() -> Any:
        if messages:
            return messages.pop(0)
        return await receive()

    return replayed


async def safe_path(request: Request) -> None:
    """Every path parameter is one segment: never a decoded ``/``, a ``\\``, a control
    character or a dot segment. A key of another shape is refused before anything else
    runs, whatever the client did or did not encode."""
    bad = [
        name
        for name, value in request.path_params.items()
        if not isinstance(value, str) or value.strip(".") == "" or _UNSAFE_PARAM.search(value)
    ]
    if bad:
        where = bad[0]
        raise ProblemError(
            rules.INVALID_REQUEST,
            f"{where}: {_SEGMENT_RULE}",
            field=where,
        )


router = APIRouter(prefix="/v1", dependencies=[Depends(safe_path)])


def _key_email(email: str) -> str:
    return normalize.email(email)


def _key_account(number: str) -> str:
    # A Norwegian account number (1503.42.10001) or an IBAN (SE45 5000 ...).
    if number[:2].isalpha():
        return normalize.iban(number)
    return str(kontonr.compact(number))


# Identity --------------------------------------------------------------------------


@router.get("/whoami", response_model=m.WhoAmI, responses=READ, tags=["identity"])
async def whoami(ctx: Ctx) -> Response:
    """The partner (and tenant, for a tenant token) the token acts for."""
    return Response(reads.whoami(ctx.principal), media_type=JSON)


@router.get("/vocabulary", response_model=m.VocabularyOut, responses=READ, tags=["identity"])
async def vocabulary(ctx: Ctx) -> Response:
    """The names templates and settings may use: merge fields (written {Name} in a
    template's subject and body), template languages and PDF templates. The product's
    lists; a client checks its configuration against them."""
    return Response(reads.vocabulary(ctx.store), media_type=JSON)


# Tenants ---------------------------------------------------------------------------


@router.get("/tenants", response_model=m.Page[m.TenantOut], responses=LIST, tags=["tenants"])
async def list_tenants(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Response:
    with ctx.read() as tx:
        return Response(reads.tenants(tx, limit, cursor), media_type=JSON)


@router.post(
    "/tenants", status_code=201, response_model=m.TenantCreated, responses=CREATE, tags=["tenants"]
)
async def create_tenant(body: m.TenantCreate, ctx: Ctx, idem: Idem) -> Response:
    return ctx.create(idem, lambda tx: ops.create_tenant(tx, body), _with_config)


def _with_config(tx: Tx, row: Row) -> dict[str, Any]:
    slug = row.data["slug"]
    _, text, _ = tenant_configs(tx, after="", limit=1, slugs=[slug])
    return {**shown(row.out()), "config": json.loads(text)[0]}


@router.get("/tenants/{slug}", response_model=m.TenantOut, responses=READ, tags=["tenants"])
async def get_tenant(slug: str, ctx: Ctx) -> Response:
    with ctx.read() as tx:
        return _row(reads.visible_tenant(tx, slug), read_only=ctx.principal.read_only)


@router.patch("/tenants/{slug}", response_model=m.TenantOut, responses=UPDATE, tags=["tenants"])
async def patch_tenant(
    slug: str, body: m.TenantPatch, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    with ctx.write() as tx:
        return _row(ops.update_tenant(tx, slug, if_match, body))


@router.delete(
    "/tenants/{slug}",
    status_code=204,
    response_class=Response,
    responses=UPDATE,
    tags=["tenants"],
)
async def delete_tenant(slug: str, ctx: Ctx, if_match: IfMatch = None) -> Response:
    with ctx.write() as tx:
        ops.delete_tenant(tx, slug, if_match)
    return Response(status_code=204)


@router.get("/tenants/{slug}/config", response_model=m.TenantConfig, responses=READ, tags=["bulk"])
async def get_tenant_config(slug: str, ctx: Ctx) -> Response:
    with ctx.read() as tx:
        reads.visible_tenant(tx, slug)
        _, text, _ = tenant_configs(tx, after="", limit=1, slugs=[slug])
    return Response(text[1:-1], media_type=JSON)


@router.get("/bulk/tenants", response_model=m.Page[m.TenantConfig], responses=LIST, tags=["bulk"])
async def bulk_tenants(
    ctx: Ctx,
    limit: Limit = 100,
    cursor: Cursor = None,
    slugs: Annotated[
        str | None, Query(description="Comma-separated slugs: only these tenants")
    ] = None,
) -> Response:
    with ctx.read() as tx:
        return Response(reads.bulk_tenants(tx, limit, cursor, slugs), media_type=JSON)


def plain(fields: list[m.CompareField]) -> dict[str, Any]:
    """The candidates as the comparison takes them, each value in the clear."""
    return {
        "fields": [
            {**field.model_dump(exclude={"value"}), "value": field.value.get_secret_value()}
            for field in fields
        ]
    }


@router.post(
    "/tenants/{slug}/fingerprints:compare",
    response_model=m.CompareAnswer,
    responses=_problems(403, 429),
    tags=["secrets"],
)
async def compare_fingerprints(slug: str, body: m.CompareRequest, ctx: Ctx) -> Response:
    """Whether each value sent is the secret stored there: only same or not. Only a
    writing token may ask, with at most 10 answers finding a difference a minute per token
    and tenant (429 with Retry-After beyond), and every call is in the audit log (which
    fields, never values)."""
    answer = compare_answer(ctx.store, ctx.principal, slug, plain(body.fields), ctx.client)
    return Response(answer, media_type=JSON)


@router.post(
    "/bulk/fingerprints:compare",
    response_model=m.BulkCompareAnswer,
    responses=_problems(403),
    tags=["secrets"],
)
async def bulk_compare_fingerprints(body: m.BulkCompareRequest, ctx: Ctx) -> Response:
    """Many tenants' comparisons in one call: each tenant answered as its own
    ``fingerprints:compare`` would answer it, or with the problem that call would give
    (404, 429) in its place. The same budget and the same audit entry per tenant."""
    tenants = [{"slug": one.slug, **plain(one.fields)} for one in body.tenants]
    answer = bulk_compare_answer(ctx.store, ctx.principal, {"tenants": tenants}, ctx.client)
    return Response(answer, media_type=JSON)


# Invoicing -------------------------------------------------------------------------


@router.get(
    "/tenants/{slug}/invoicing", response_model=m.InvoicingOut, responses=READ, tags=["invoicing"]
)
async def get_invoicing(slug: str, ctx: Ctx) -> Response:
    with ctx.read() as tx:
        return _row(ops.invoicing(tx, slug))


@router.patch(
    "/tenants/{slug}/invoicing",
    response_model=m.InvoicingOut,
    responses=UPDATE,
    tags=["invoicing"],
)
async def patch_invoicing(
    slug: str, body: m.InvoicingPatch, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    with ctx.write() as tx:
        return _row(ops.update_invoicing(tx, slug, if_match, body))


@router.post(
    "/tenants/{slug}/invoicing/issue-invoice",
    response_model=m.InvoicingOut,
    responses=HELPER,
    tags=["test helpers"],
)
async def issue_invoice(slug: str, ctx: Ctx) -> Response:
    """Sandbox only: issue one invoice (last_invoice_number takes the next number)."""
    with ctx.write() as tx:
        return _row(ops.issue_invoice(tx, slug))


@router.post(
    "/tenants/{slug}/invoicing/add-customer",
    response_model=m.InvoicingOut,
    responses=HELPER,
    tags=["test helpers"],
)
async def add_customer(slug: str, ctx: Ctx) -> Response:
    """Sandbox only: add one customer (last_customer_number takes the next number)."""
    with ctx.write() as tx:
        return _row(ops.add_customer(tx, slug))


# Email account ---------------------------------------------------------------------

_EMAIL_ACCOUNT = "email_account (the system account is used)"


@router.get(
    "/tenants/{slug}/email-account",
    response_model=m.EmailAccountOut,
    responses=READ,
    tags=["email account"],
)
async def get_email_account(slug: str, ctx: Ctx) -> Response:
    with ctx.read() as tx:
        return _row(ops.item(tx, slug, EMAIL_ACCOUNT, "", _EMAIL_ACCOUNT))


@router.post(
    "/tenants/{slug}/email-account",
    status_code=201,
    response_model=m.EmailAccountOut,
    responses=CREATE,
    tags=["email account"],
)
async def create_email_account(
    slug: str, body: m.EmailAccountCreate, ctx: Ctx, idem: Idem
) -> Response:
    return ctx.create(idem, lambda tx: ops.create_email_account(tx, slug, body))


@router.patch(
    "/tenants/{slug}/email-account",
    response_model=m.EmailAccountOut,
    responses=UPDATE,
    tags=["email account"],
)
async def patch_email_account(
    slug: str, body: m.EmailAccountPatch, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    with ctx.write() as tx:
        return _row(ops.update_email_account(tx, slug, if_match, body))


@router.delete(
    "/tenants/{slug}/email-account",
    status_code=204,
    response_class=Response,
    responses=UPDATE,
    tags=["email account"],
)
async def delete_email_account(slug: str, ctx: Ctx, if_match: IfMatch = None) -> Response:
    with ctx.write() as tx:
        ops.delete_item(tx, slug, EMAIL_ACCOUNT, "", if_match)
    return Response(status_code=204)


# Collections: connections, bank accounts, users, templates ----------------------------


def _list_items(ctx: Context, slug: str, section: str, limit: int, cursor: str | None) -> Response:
    after = decode_cursor(cursor, str)
    with ctx.read() as tx:
        reads.visible_tenant(tx, slug)
        rows = tx.items(slug, section, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return _page([shown(row.out()) for _, row in rows], rows[-1][0] if more else None)


def _get_item(ctx: Context, slug: str, section: str, key: str) -> Response:
    with ctx.read() as tx:
        return _row(ops.item(tx, slug, section, key, f'{section}["{key}"]'))


def _delete_item(ctx: Context, slug: str, section: str, key: str, if_match: str | None) -> Response:
    with ctx.write() as tx:
        ops.delete_item(tx, slug, section, key, if_match)
    return Response(status_code=204)


@router.get(
    "/tenants/{slug}/connections",
    response_model=m.Page[m.ConnectionOut],
    responses=LIST,
    tags=["connections"],
)
async def list_connections(
    slug: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    return _list_items(ctx, slug, CONNECTIONS, limit, cursor)


@router.post(
    "/tenants/{slug}/connections",
    status_code=201,
    response_model=m.ConnectionOut,
    responses=CREATE,
    tags=["connections"],
)
async def create_connection(slug: str, body: m.ConnectionCreate, ctx: Ctx, idem: Idem) -> Response:
    return ctx.create(idem, lambda tx: ops.create_connection(tx, slug, body))


@router.get(
    "/tenants/{slug}/connections/{connector}",
    response_model=m.ConnectionOut,
    responses=READ,
    tags=["connections"],
)
async def get_connection(slug: str, connector: str, ctx: Ctx) -> Response:
    return _get_item(ctx, slug, CONNECTIONS, connector)


@router.patch(
    "/tenants/{slug}/connections/{connector}",
    response_model=m.ConnectionOut,
    responses=UPDATE,
    tags=["connections"],
)
async def patch_connection(
    slug: str, connector: str, body: m.ConnectionPatch, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    with ctx.write() as tx:
        return _row(ops.update_connection(tx, slug, connector, if_match, body))


@router.delete(
    "/tenants/{slug}/connections/{connector}",
    status_code=204,
    response_class=Response,
    responses=UPDATE,
    tags=["connections"],
)
async def delete_connection(
    slug: str, connector: str, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    return _delete_item(ctx, slug, CONNECTIONS, connector, if_match)


@router.get(
    "/tenants/{slug}/bank-accounts",
    response_model=m.Page[m.BankAccountOut],
    responses=LIST,
    tags=["bank accounts"],
)
async def list_bank_accounts(
    slug: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    return _list_items(ctx, slug, BANK_ACCOUNTS, limit, cursor)


@router.post(
    "/tenants/{slug}/bank-accounts",
    status_code=201,
    response_model=m.BankAccountWritten,
    responses=CREATE,
    tags=["bank accounts"],
)
async def create_bank_account(
    slug: str, body: m.BankAccountCreate, ctx: Ctx, idem: Idem
) -> Response:
    return ctx.create(idem, lambda tx: ops.create_bank_account(tx, slug, body))


@router.get(
    "/tenants/{slug}/bank-accounts/{account_number}",
    response_model=m.BankAccountOut,
    responses=READ,
    tags=["bank accounts"],
)
async def get_bank_account(slug: str, account_number: str, ctx: Ctx) -> Response:
    return _get_item(ctx, slug, BANK_ACCOUNTS, _key_account(account_number))


@router.patch(
    "/tenants/{slug}/bank-accounts/{account_number}",
    response_model=m.BankAccountWritten,
    responses=UPDATE,
    tags=["bank accounts"],
)
async def patch_bank_account(
    slug: str, account_number: str, body: m.BankAccountPatch, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    number = _key_account(account_number)
    with ctx.write() as tx:
        return _row(ops.update_bank_account(tx, slug, number, if_match, body))


@router.delete(
    "/tenants/{slug}/bank-accounts/{account_number}",
    status_code=204,
    response_class=Response,
    responses=UPDATE,
    tags=["bank accounts"],
)
async def delete_bank_account(
    slug: str, account_number: str, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    return _delete_item(ctx, slug, BANK_ACCOUNTS, _key_account(account_number), if_match)


@router.get(
    "/tenants/{slug}/users", response_model=m.Page[m.UserOut], responses=LIST, tags=["users"]
)
async def list_users(slug: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Response:
    return _list_items(ctx, slug, USERS, limit, cursor)


@router.post(
    "/tenants/{slug}/users",
    status_code=201,
    response_model=m.UserOut,
    responses=CREATE,
    tags=["users"],
)
async def invite_user(slug: str, body: m.UserCreate, ctx: Ctx, idem: Idem) -> Response:
    """Invite a user: pending until accepted, but present from now on."""
    return ctx.create(idem, lambda tx: ops.create_user(tx, slug, body))


@router.get(
    "/tenants/{slug}/users/{email}", response_model=m.UserOut, responses=READ, tags=["users"]
)
async def get_user(slug: str, email: str, ctx: Ctx) -> Response:
    return _get_item(ctx, slug, USERS, _key_email(email))


@router.patch(
    "/tenants/{slug}/users/{email}", response_model=m.UserOut, responses=UPDATE, tags=["users"]
)
async def patch_user(
    slug: str, email: str, body: m.UserPatch, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    with ctx.write() as tx:
        return _row(ops.update_user(tx, slug, _key_email(email), if_match, body))


@router.delete(
    "/tenants/{slug}/users/{email}",
    status_code=204,
    response_class=Response,
    responses=UPDATE,
    tags=["users"],
)
async def delete_user(slug: str, email: str, ctx: Ctx, if_match: IfMatch = None) -> Response:
    return _delete_item(ctx, slug, USERS, _key_email(email), if_match)


@router.post(
    "/tenants/{slug}/users/{email}/accept",
    response_model=m.UserOut,
    responses=HELPER,
    tags=["test helpers"],
)
async def accept_invitation(slug: str, email: str, ctx: Ctx) -> Response:
    """Sandbox only: the invited user accepts (pending → active; active stays)."""
    with ctx.write() as tx:
        return _row(ops.accept_invitation(tx, slug, _key_email(email)))


@router.get(
    "/tenants/{slug}/email-templates",
    response_model=m.Page[m.EmailTemplateOut],
    responses=LIST,
    tags=["email templates"],
)
async def list_email_templates(
    slug: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None
) -> Response:
    return _list_items(ctx, slug, EMAIL_TEMPLATES, limit, cursor)


@router.post(
    "/tenants/{slug}/email-templates",
    status_code=201,
    response_model=m.EmailTemplateOut,
    responses=CREATE,
    tags=["email templates"],
)
async def create_email_template(
    slug: str, body: m.EmailTemplateCreate, ctx: Ctx, idem: Idem
) -> Response:
    return ctx.create(idem, lambda tx: ops.create_email_template(tx, slug, body))


@router.get(
    "/tenants/{slug}/email-templates/{kind}/{language}",
    response_model=m.EmailTemplateOut,
    responses=READ,
    tags=["email templates"],
)
async def get_email_template(slug: str, kind: str, language: str, ctx: Ctx) -> Response:
    return _get_item(ctx, slug, EMAIL_TEMPLATES, f"{kind}/{language}")


@router.patch(
    "/tenants/{slug}/email-templates/{kind}/{language}",
    response_model=m.EmailTemplateOut,
    responses=UPDATE,
    tags=["email templates"],
)
async def patch_email_template(
    slug: str,
    kind: str,
    language: str,
    body: m.EmailTemplatePatch,
    ctx: Ctx,
    if_match: IfMatch = None,
) -> Response:
    with ctx.write() as tx:
        return _row(ops.update_email_template(tx, slug, f"{kind}/{language}", if_match, body))


@router.delete(
    "/tenants/{slug}/email-templates/{kind}/{language}",
    status_code=204,
    response_class=Response,
    responses=UPDATE,
    tags=["email templates"],
)
async def delete_email_template(
    slug: str, kind: str, language: str, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    return _delete_item(ctx, slug, EMAIL_TEMPLATES, f"{kind}/{language}", if_match)


# Agreement membership and agreements ----------------------------------------------------


@router.get(
    "/tenants/{slug}/agreement",
    response_model=m.MembershipOut,
    responses=READ,
    tags=["agreements"],
)
async def get_membership(slug: str, ctx: Ctx) -> Response:
    with ctx.read() as tx:
        return _row(ops.membership(tx, slug))


@router.put(
    "/tenants/{slug}/agreement",
    response_model=m.MembershipOut,
    responses=UPDATE,
    tags=["agreements"],
)
async def move_tenant(
    slug: str, body: m.MembershipPut, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    """Move the tenant into another agreement (or out, with null) in one step."""
    with ctx.write() as tx:
        return _row(ops.move(tx, slug, if_match, body))


@router.get(
    "/agreements", response_model=m.Page[m.AgreementOut], responses=LIST, tags=["agreements"]
)
async def list_agreements(ctx: Ctx, limit: Limit = 50, cursor: Cursor = None) -> Response:
    with ctx.read() as tx:
        return Response(reads.agreements(tx, limit, cursor), media_type=JSON)


@router.post(
    "/agreements",
    status_code=201,
    response_model=m.AgreementOut,
    responses=CREATE,
    tags=["agreements"],
)
async def create_agreement(body: m.AgreementCreate, ctx: Ctx, idem: Idem) -> Response:
    return ctx.create(idem, lambda tx: ops.create_agreement(tx, body), ops.agreement_out)


@router.get(
    "/agreements/{name}", response_model=m.AgreementOut, responses=READ, tags=["agreements"]
)
async def get_agreement(name: str, ctx: Ctx) -> Response:
    with ctx.read() as tx:
        row = ops.agreement(tx, name)
        return _resource(ops.agreement_out(tx, row), row.version)


@router.patch(
    "/agreements/{name}", response_model=m.AgreementOut, responses=UPDATE, tags=["agreements"]
)
async def patch_agreement(
    name: str, body: m.AgreementPatch, ctx: Ctx, if_match: IfMatch = None
) -> Response:
    with ctx.write() as tx:
        row = ops.update_agreement(tx, name, if_match, body)
        return _resource(ops.agreement_out(tx, row), row.version)


@router.delete(
    "/agreements/{name}",
    status_code=204,
    response_class=Response,
    responses=UPDATE,
    tags=["agreements"],
)
async def delete_agreement(name: str, ctx: Ctx, if_match: IfMatch = None) -> Response:
    with ctx.write() as tx:
        ops.delete_agreement(tx, name, if_match)
    return Response(status_code=204)


# Audit log ---------------------------------------------------------------------------


@router.get(
    "/tenants/{slug}/audit-log",
    response_model=m.Page[m.AuditEntry],
    responses=LIST,
    tags=["logs"],
)
async def audit_log(
    slug: str,
    ctx: Ctx,
    limit: Limit = 50,
    cursor: Cursor = None,
    since: Since = None,
    order: Annotated[
        Literal["asc", "desc"],
        Query(description="asc: oldest first (the default); desc: newest first"),
    ] = "asc",
) -> Response:
    """Who changed what, when: every write to the tenant, with the token's name."""
    with ctx.read() as tx:
        text = reads.audit_log(
            tx, slug, limit, cursor, since=_since(since), newest_first=order == "desc"
        )
    return Response(text, media_type=JSON)


@router.get(
    "/tenants/{slug}/distribution-log",
    response_model=m.Page[m.DistributionEntry],
    responses=LIST,
    tags=["logs"],
)
async def distribution_log(
    slug: str, ctx: Ctx, limit: Limit = 50, cursor: Cursor = None, since: Since = None
) -> Response:
    """Every invoice issued through the API and how it was distributed, oldest first."""
    after = decode_cursor(cursor, int)
    with ctx.read() as tx:
        reads.visible_tenant(tx, slug)
        entries = tx.distributions(slug, after, limit + 1, since=_since(since))
    more = len(entries) > limit
    entries = entries[:limit]
    return _page(entries, entries[-1]["id"] if more else None)


@router.post(
    "/tenants/{slug}/invoices",
    status_code=201,
    response_model=m.DistributionEntry,
    responses=CREATE,
    tags=["test helpers"],
)
async def issue_and_distribute(slug: str, body: m.InvoiceCreate, ctx: Ctx, idem: Idem) -> Response:
    """Sandbox only: what a user does in the product: invoice an order (the next invoice
    number) and distribute it by e-mail or print. The answer is the distribution log's
    entry; refused like issue-invoice (pending tenant, invoicing disabled)."""
    return ctx.create(
        idem,
        lambda tx: Row(ops.distribute_invoice(tx, slug, body), 1),
        lambda tx, row: row.data,
    )


# The application -----------------------------------------------------------------------


def _validation_problem(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, RequestValidationError):
        raise exc
    # Only location, message and type: pydantic's "input" may hold a secret.
    errors = [
        {
            "loc": [str(p) if not isinstance(p, int) else p for p in e["loc"]],
            "msg": e["msg"],
            "type": e["type"],
        }
        for e in exc.errors()
    ]
    first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"][1:]) or ".".join(map(str, first["loc"]))
    return _problem_response(
        ProblemError(rules.INVALID_REQUEST, f"{where}: {first['msg']}", field=where, errors=errors)
    )


def _http_problem(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StarletteHTTPException):
        raise exc
    if exc.status_code == 405:
        rule = rules.METHOD_NOT_ALLOWED
        detail = f"{request.method} is not supported on {request.url.path}"
    else:
        rule = rules.NOT_FOUND
        detail = f"{request.url.path}: no such resource; see /openapi.json for the paths"
    return _problem_response(ProblemError(rule, detail))


def _problem(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, ProblemError):
        raise exc
    return _problem_response(exc)


def _internal_error(request: Request, exc: Exception) -> Response:
    return _problem_response(
        ProblemError(rules.INTERNAL_ERROR, "the sandbox failed; the request was not applied")
    )


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            problem = m.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(problem.pop("$defs", {}))
            schemas["Problem"] = problem
            app.openapi_schema = document
        return app.openapi_schema

    return build


def create_app(
    db_path: Path | str,
    faults: Faults | None = None,
    vocabulary: Vocabulary = PRODUCT,
    *,
    store: Store | None = None,
) -> FastAPI:
    """The sandbox over the SQLite file ``db_path`` (created when missing), accepting the
    names of ``vocabulary`` (the product's lists unless a test gives others); over
    ``store`` instead when given (the embedded sandbox's, already open)."""
    app = FastAPI(
        title="t4o tenant admin API",
        version=__version__,
        description="The sandbox of the t4o tenant admin API; see docs/api.md."
        " Problem types: " + ", ".join(r.name for r in rules.all_rules()),
    )
    app.state.store = store if store is not None else Store(db_path, vocabulary)
    app.include_router(router)
    app.add_exception_handler(ProblemError, _problem)
    app.add_exception_handler(RequestValidationError, _validation_problem)
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.add_exception_handler(Exception, _internal_error)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    if faults is not None and faults.active:
        app.add_middleware(FaultMiddleware, faults=faults)
    app.add_middleware(BodyLimit)
    app.add_middleware(SegmentGuard)
    return app
