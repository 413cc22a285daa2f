"""One object per repeated value in the snapshots, instead of one per occurrence.

Short strings repeat in every item of every tenant (rights, roles, kinds, languages,
cities), and so do a user's program rights as a whole; the API's JSON and the files'
parser give each occurrence its own object. At 10,000 tenants the shared ones are about
100 MB less on each side. Bounded; only values nothing changes in place are shared
(snapshot values never are: a plan builds new dicts for what it changes).
"""

from __future__ import annotations

from typing import Any

_STRINGS: dict[str, str] = {}
_RIGHTS: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
_MAX = 100_000
SHORT = 16


def shared(value: Any) -> Any:
    """``value`` itself, or the equal one already kept: a short string, or a small
    mapping of short strings (a user's program rights)."""
    if type(value) is str:
        return one(value)
    if type(value) is dict and len(value) <= 8:
        return _mapping(value)
    return value


def one(value: str) -> str:
    if len(value) > SHORT:
        return value
    kept = _STRINGS.get(value)
    if kept is not None:
        return kept
    if len(_STRINGS) < _MAX:
        _STRINGS[value] = value
    return value


def _mapping(value: dict[str, Any]) -> dict[str, Any]:
    for item in value.values():
        if type(item) is not str or len(item) > SHORT:
            return {key: one(item) if type(item) is str else item for key, item in value.items()}
    content = tuple(value.items())
    kept = _RIGHTS.get(content)
    if kept is not None:
        return kept
    fresh = {one(key): one(item) for key, item in value.items()}
    if len(_RIGHTS) < _MAX:
        _RIGHTS[content] = fresh
    return fresh
