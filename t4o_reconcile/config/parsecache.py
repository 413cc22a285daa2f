"""A cache of parsed tenant files: the YAML parse skipped for a file that did not change.

An entry is the plain data ``fastyaml`` built from one file, stored as JSON (never
pickle: reading an entry runs no code) under a key that is the sha256 of everything that
data depends on: this tool's version, the parser's (``fastyaml.PARSER_VERSION``, PyYAML's
and libyaml's versions, and the bytes of ``fastyaml``'s own source), and the file's bytes.
Nothing else goes into a parse: the defaults are merged and the result validated after
the cache, on every run, so a changed ``_defaults.yaml`` changes the plan without
touching an entry, and no entry holds a message, a path or a resolved secret.

What comes out of an entry is checked (its shape, its key) and then validated like a
fresh parse: always. An entry that does not pass is ignored, and rewritten when the run
may write.

Who may write: a poisoned entry would make the plan show other data than the file holds,
so entries are written only by a run the operator trusts (``T4O_CACHE``):

* ``off``: neither read nor written;
* ``read``: read, never written (a pull request's job reading the default branch's
  cache);
* ``readwrite``: read and written (a local run, the drift job on the default branch);
* unset or ``auto``: ``readwrite`` on a workstation, ``off`` in CI (``CI``,
  ``GITHUB_ACTIONS`` or ``GITLAB_CI`` set), so CI writes only where a job says so.

The directory is ``T4O_CACHE_DIR``, else ``$XDG_CACHE_HOME/t4o-reconcile/parsed``, else
``~/.cache/t4o-reconcile/parsed``: never inside the repository, where a pull request
could commit entries. See ``docs/cache.md`` for the CI cache scoping this relies on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from t4o_reconcile import __version__
from t4o_reconcile.config import fastyaml
from t4o_reconcile.errors import UsageError

Mode = Literal["off", "read", "readwrite"]
MODES: tuple[Mode, ...] = ("off", "read", "readwrite")
CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI")
FORMAT = 1


def _parser_fingerprint() -> bytes:
    """What the parse's result depends on besides the file: read once per process."""
    import yaml

    source = Path(fastyaml.__file__).read_bytes()
    parts = (
        f"t4o-reconcile {__version__}",
        fastyaml.PARSER_VERSION,
        f"PyYAML {yaml.__version__}",
        hashlib.sha256(source).hexdigest(),
    )
    return "\0".join(parts).encode() + b"\0"


_FINGERPRINT: bytes | None = None


def fingerprint() -> bytes:
    global _FINGERPRINT
    if _FINGERPRINT is None:
        _FINGERPRINT = _parser_fingerprint()
    return _FINGERPRINT


def mode_from(environ: Mapping[str, str]) -> Mode:
    """``T4O_CACHE``, with ``auto`` (or unset) meaning readwrite locally and off in CI."""
    asked = environ.get("T4O_CACHE", "auto").strip().lower() or "auto"
    if asked == "auto":
        in_ci = any(environ.get(name, "").strip() for name in CI_VARIABLES)
        return "off" if in_ci else "readwrite"
    if asked not in MODES:
        raise UsageError(f"T4O_CACHE={asked!r}; expected one of auto, off, read, readwrite")
    return asked


def directory_from(environ: Mapping[str, str]) -> Path:
    explicit = environ.get("T4O_CACHE_DIR", "").strip()
    if explicit:
        return Path(explicit)
    base = environ.get("XDG_CACHE_HOME", "").strip()
    root = Path(base) if base else Path.home() / ".cache"
    return root / "t4o-reconcile" / "parsed"


@dataclass(slots=True)
class ParseCache:
    """Parsed files by the sha256 of their bytes and the parser; see the module's doc."""

    directory: Path
    mode: Mode = "readwrite"
    # Counted in this process only (worker processes count their own copies).
    hits: int = field(default=0, compare=False)
    misses: int = field(default=0, compare=False)

    @classmethod
    def from_settings(cls, environ: Mapping[str, str]) -> ParseCache | None:
        mode = mode_from(environ)
        if mode == "off":
            return None
        return cls(directory_from(environ), mode)

    @property
    def writes(self) -> bool:
        return self.mode == "readwrite"

    def key(self, data: bytes) -> str:
        return hashlib.sha256(fingerprint() + data).hexdigest()

    def _entry(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> tuple[bool, Any]:
        """(True, the parsed data) for a sound entry under ``key``; (False, None) for a
        missing one or one that does not pass its checks (ignored, rewritten by
        ``put``)."""
        try:
            raw = self._entry(key).read_bytes()
            entry = json.loads(raw)
        except (OSError, ValueError, RecursionError):
            self.misses += 1
            return False, None
        if (
            not isinstance(entry, dict)
            or entry.get("format") != FORMAT
            or entry.get("key") != key
            or "data" not in entry
            or len(entry) != 3
        ):
            self.misses += 1
            return False, None
        self.hits += 1
        return True, entry["data"]

    def put(self, key: str, data: Any) -> None:
        """Store ``data`` under ``key`` when this run may write and JSON gives back the
        same data (keys that are not strings, NaN: not stored). Failing to write is not
        an error: the next run parses again."""
        if not self.writes:
            return
        try:
            text = json.dumps(
                {"format": FORMAT, "key": key, "data": data},
                ensure_ascii=False,
                allow_nan=True,
                separators=(",", ":"),
            )
            if json.loads(text)["data"] != data:
                return
        except (TypeError, ValueError, RecursionError):
            return
        target = self._entry(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            handle, temporary = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(text)
                os.replace(temporary, target)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError:
            return
