"""The embedded sandbox: the sandbox app in-process over an SQLite file under ``.t4o/``.

A new user can plan and apply with no server and no account. The sandbox is imported
only here, only when the embedded target is used, and FastAPI only once a request needs
the app (see ``EmbeddedTransport``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

# Light (no web framework): this module is imported only for the embedded target.
from t4o_reconcile.sandbox.reads import checked_params, read_of
from t4o_reconcile.sandbox.rules import ProblemError
from t4o_reconcile.sandbox.secrets import (
    BULK_COMPARE_PATH,
    COMPARE_PATH,
    bulk_compare_answer,
    compare_answer,
)
from t4o_reconcile.sandbox.store import client_of

if TYPE_CHECKING:
    from t4o_reconcile.sandbox.store import Store

EMBEDDED_BASE_URL = "http://sandbox.invalid"
LOCAL_PARTNER = "local"


def token_path(db_path: Path) -> Path:
    """Where the plain local token lives: ``token`` beside the database."""
    return db_path.parent / "token"


def embedded_transport(db_path: Path) -> tuple[httpx.AsyncBaseTransport, Callable[[], None]]:
    """The sandbox over ``db_path``, served in-process, and how to close its database."""
    from t4o_reconcile.sandbox.store import Store

    db_path.parent.mkdir(parents=True, exist_ok=True)
    transport = EmbeddedTransport(Store(db_path))
    return transport, transport.close


class EmbeddedTransport(httpx.AsyncBaseTransport):
    """The sandbox app in-process. The reads a plan makes (``sandbox.reads``), when well
    formed, are answered by the same functions the app's routes call, without the app;
    everything else goes to the FastAPI app, built on first need. So plan on the embedded
    sandbox never imports FastAPI (about half a second), and apply does once it writes."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._app: httpx.ASGITransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        answer = self._read(request) if request.method == "GET" else await self._compare(request)
        if answer is not None:
            return answer
        if self._app is None:
            from t4o_reconcile.sandbox.app import create_app

            self._app = httpx.ASGITransport(app=create_app(self._store.path, store=self._store))
        return await self._app.handle_async_request(request)

    def _read(self, request: httpx.Request) -> httpx.Response | None:
        found = read_of(request.url.path) if request.method == "GET" else None
        if found is None or request.url.raw_path.split(b"?")[0] != request.url.path.encode():
            return None
        read, in_path = found
        params = checked_params(read, request.url.params.multi_items())
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if params is None or scheme.lower() != "bearer" or not token:
            return None
        principal = self._store.authenticate(token)
        if principal is None:
            return None  # the app words the 401
        try:
            text = read.answer(self._store, principal, {**params, **in_path})
        except ProblemError:
            return None  # a bad cursor, say: the app words it the same way again
        return httpx.Response(
            200, headers={"content-type": "application/json"}, content=text.encode()
        )

    async def _compare(self, request: httpx.Request) -> httpx.Response | None:
        """A plan's one write-like call, answered as the app would when all is well: a
        fingerprint comparison (of one tenant or many) by a writing token within its
        budget. Anything else (a refusal included) the app words."""
        path = request.url.path
        if request.method != "POST" or request.url.raw_path.decode() != path or request.url.query:
            return None
        one = COMPARE_PATH.match(path)
        if one is None and path != BULK_COMPARE_PATH:
            return None
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        principal = self._store.authenticate(token) if scheme.lower() == "bearer" else None
        if principal is None or principal.read_only:
            return None
        client = client_of(request.headers.get("user-agent"))
        try:
            body = json.loads(await request.aread())
            if one is None:
                text = bulk_compare_answer(self._store, principal, body, client)
            else:
                text = compare_answer(self._store, principal, one.group(1), body, client)
        except (ValueError, ProblemError):
            return None
        return httpx.Response(
            200, headers={"content-type": "application/json"}, content=text.encode()
        )

    @property
    def app_built(self) -> bool:
        """Whether a request has needed the app (and so imported FastAPI)."""
        return self._app is not None

    def close(self) -> None:
        self._store.close()


def local_token(db_path: Path) -> str:
    """The local partner token of this sandbox, created and stored on first use.

    The database keeps only its hash; the plain token is written to a 0600 file so later
    runs can use it. A stored token the database does not know (the database was removed,
    or another one shares the folder) is replaced.
    """
    from t4o_reconcile.sandbox.store import Store

    path = token_path(db_path)
    store = Store(db_path)
    try:
        if path.exists():
            token = path.read_text(encoding="utf-8").strip()
            principal = store.authenticate(token) if token else None
            if principal is not None and principal.tenant is None:
                return token
        token = store.create_token(partner=LOCAL_PARTNER)
    finally:
        store.close()
    _write_private(path, token)
    return token


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
    os.chmod(tmp, 0o600)  # the umask may have narrowed it further, never widened: be exact
    os.replace(tmp, path)
