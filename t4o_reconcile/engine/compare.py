"""Field-level comparison of one desired item against its live counterpart.

Only the fields the desired item holds are compared (recursively into dicts), so
read-only live fields (``status``, ``last_invoice_number``) and fields the configuration
leaves unmanaged never show as changes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from t4o_reconcile import normalize
from t4o_reconcile.engine.snapshot import Fingerprint, Secret, UnreadSecret, UnresolvedSecret

# What a path into fields finds when the fields do not hold it (None is a value).
MISSING: Any = object()


def same(want: Any, have: Any) -> bool:
    # Same type first: True == 1 and 1 == 1.0 are changes the API would see.
    if type(want) is type(have) and want == have:
        return True
    if isinstance(want, Secret):
        if isinstance(have, Fingerprint) and not have.compared:
            # The API was not asked (a read-only token): like an unread value, it is not
            # compared (the plan lists it as such), but a changed reference shows.
            return same_source(want, have)
        return isinstance(have, Fingerprint) and want.matches(have) and same_source(want, have)
    if isinstance(want, UnreadSecret):
        # The value is not compared (the plan is partial), but a changed reference shows.
        return not isinstance(have, Fingerprint) or same_source(want, have)
    if isinstance(want, UnresolvedSecret):
        # Cannot be compared; checks report it as a plan error instead.
        return True
    if isinstance(want, str) and isinstance(have, str):
        # Defensive: both sides should be normalised already, but trailing whitespace
        # is never significant and must not become a perpetual diff.
        return normalize.text(want) == normalize.text(have)
    return False


def field_at(fields: Mapping[str, Any] | None, path: str) -> Any:
    """The value at a dotted path ("address.city") in an item's fields, or MISSING."""
    value: Any = fields
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return MISSING
        value = value[part]
    return value


def same_source(want: Secret | UnreadSecret, have: Fingerprint) -> bool:
    """Whether the secret still comes from where the API says it was written from (an API
    that keeps no reference, or a secret written before it did, always agrees)."""
    return have.source is None or have.source == want.source


def changed_paths(want: Mapping[str, Any], have: Mapping[str, Any]) -> list[str]:
    """Dotted paths of every desired field whose live value differs."""
    out: list[str] = []
    _walk(want, have, "", out)
    return out


def _walk(want: Mapping[str, Any], have: Mapping[str, Any], prefix: str, out: list[str]) -> None:
    for name, value in want.items():
        live = have.get(name, MISSING)
        kind = type(value)
        if kind is type(live) and kind is not dict and value == live:
            continue  # what ``same`` decides first, without the call: most fields are equal
        if isinstance(value, dict) and isinstance(live, dict):
            _walk(value, live, prefix + name + ".", out)
        elif live is MISSING or not same(value, live):
            out.append(prefix + name)


def merged(want: Any, have: Any) -> Any:
    """The desired value laid over the live one: what the resource holds afterwards.

    An update sends whole top-level fields, so live sub-fields the configuration does
    not manage (a phone left out of ``contact``) are kept rather than cleared.
    """
    if isinstance(want, dict) and isinstance(have, dict):
        out = dict(have)
        for key, value in want.items():
            out[key] = merged(value, have.get(key))
        return out
    return want


def secret_paths(fields: Mapping[str, Any]) -> Sequence[str]:
    found = [name for name, value in fields.items() if is_secret(value)]
    return found or ()


def is_secret(value: object) -> bool:
    return isinstance(value, Secret | UnresolvedSecret | UnreadSecret | Fingerprint)
