"""Resolving ``{secret: env:NAME}`` and ``{secret: file:PATH}`` references.

The value is read into a ``Secret`` and goes nowhere else; what cannot be resolved
becomes an ``UnresolvedSecret`` whose problem names the reference, never a value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from t4o_reconcile.engine.snapshot import Secret, UnresolvedSecret


def resolve(
    reference: str, base_dir: Path, environ: Mapping[str, str] | None = None
) -> Secret | UnresolvedSecret:
    """``reference`` is ``env:NAME`` or ``file:PATH`` (PATH relative to ``base_dir``)."""
    env = os.environ if environ is None else environ
    scheme, _, name = reference.partition(":")
    if scheme == "env":
        value = env.get(name)
        if value is None:
            return UnresolvedSecret(reference, f"environment variable {name} is not set")
        if value == "":
            return UnresolvedSecret(reference, f"environment variable {name} is empty")
        return Secret(value, reference)
    if scheme == "file":
        path = Path(name).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        try:
            value = path.read_text(encoding="utf-8").rstrip("\r\n")
        except FileNotFoundError:
            return UnresolvedSecret(reference, f"secret file {path} does not exist")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8"
            return UnresolvedSecret(reference, f"secret file {path} cannot be read ({reason})")
        if not value:
            return UnresolvedSecret(reference, f"secret file {path} is empty")
        return Secret(value, reference)
    return UnresolvedSecret(reference, "expected a reference of the form env:NAME or file:PATH")
