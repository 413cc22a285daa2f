"""Finding providers by name, through the ``t4o_reconcile.providers`` entry points.

Another package adds an adapter for a vendor's API by declaring, in its pyproject:
``[project.entry-points."t4o_reconcile.providers"] vendor = "pkg.module:VendorProvider"``.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import cast

from t4o_reconcile.engine.provider import Provider

ENTRY_POINT_GROUP = "t4o_reconcile.providers"
DEFAULT_PROVIDER = "t4o"
# This package's own provider, so that a source checkout that was never installed (and so
# has no entry point metadata) still finds it.
_BUILTIN = {
    DEFAULT_PROVIDER: EntryPoint(
        name=DEFAULT_PROVIDER,
        value="t4o_reconcile.api.http_provider:HttpProvider",
        group=ENTRY_POINT_GROUP,
    )
}


def _registered() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_provider(name: str = DEFAULT_PROVIDER) -> type[Provider]:
    """The provider class registered under ``name`` (a ``Provider``: it has at least its
    ``from_target``)."""
    found = {**_BUILTIN, **_registered()}
    if name not in found:
        raise LookupError(f"unknown provider {name!r}; known providers: {', '.join(sorted(found))}")
    loaded = found[name].load()
    if not isinstance(loaded, type):
        raise LookupError(f"provider {name!r} ({found[name].value}) is not a class")
    if not callable(getattr(loaded, "from_target", None)):
        raise LookupError(
            f"provider {name!r} ({found[name].value}) has no from_target(target) to build it"
        )
    return cast(type[Provider], loaded)
