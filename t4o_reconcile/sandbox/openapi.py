"""The OpenAPI document of the sandbox, checked in as ``schemas/openapi.json``."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any


def openapi_document() -> dict[str, Any]:
    from t4o_reconcile.sandbox.app import create_app

    # The document does not depend on data; a throwaway database keeps this side-effect free.
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Path(tmp) / "openapi.db")
        document = app.openapi()
        app.state.store.close()
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_openapi(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(openapi_document()), encoding="utf-8")
    return path
