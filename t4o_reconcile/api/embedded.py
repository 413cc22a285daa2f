"""The embedded sandbox: the sandbox app in-process over an SQLite file under ``.t4o/``.

A new user can plan and apply with no server and no account. FastAPI and the sandbox are
imported only here, and only when the embedded target is used.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import httpx

EMBEDDED_BASE_URL = "http://sandbox.invalid"
LOCAL_PARTNER = "local"


def token_path(db_path: Path) -> Path:
    """Where the plain local token lives: ``token`` beside the database."""
    return db_path.parent / "token"


def embedded_transport(db_path: Path) -> tuple[httpx.AsyncBaseTransport, Callable[[], None]]:
    """The sandbox app over ``db_path``, served in-process, and how to close its database."""
    from t4o_reconcile.sandbox.app import create_app

    db_path.parent.mkdir(parents=True, exist_ok=True)
    app = create_app(db_path)
    return httpx.ASGITransport(app=app), app.state.store.close


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
