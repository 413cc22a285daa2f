"""Finding providers by name, through the ``t4o_reconcile.providers`` entry points.

Another package adds an adapter for a vendor's API by declaring, in its pyproject:
``[project.entry-points."t4o_reconcile.providers"] vendor = "pkg.module:VendorProvider"``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, cast

from t4o_reconcile.engine.provider import Provider

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "t4o_reconcile.providers"
DEFAULT_PROVIDER = "t4o"
# This package's own provider, as an entry point's value would name it. It is found
# without reading any package's metadata (the common case, and a source checkout that was
# never installed), and no installed package's entry point can take its name over.
_BUILTIN = {DEFAULT_PROVIDER: "t4o_reconcile.api.http_provider:HttpProvider"}


def _registered() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _load(value: str) -> object:
    """What ``module:attribute`` names (as ``EntryPoint.load`` reads it)."""
    module, _, attribute = value.partition(":")
    loaded: object = importlib.import_module(module)
    for part in filter(None, attribute.split(".")):
        loaded = getattr(loaded, part)
    return loaded


def load_provider(name: str = DEFAULT_PROVIDER) -> type[Provider]:
    """The provider class registered under ``name`` (a ``Provider``: it has at least its
    ``from_target``)."""
    if name in _BUILTIN:
        value = _BUILTIN[name]
        loaded = _load(value)
    else:
        registered = _registered()
        if name not in registered:
            known = ", ".join(sorted({*_BUILTIN, *registered}))
            raise LookupError(f"unknown provider {name!r}; known providers: {known}")
        value = registered[name].value
        loaded = registered[name].load()
    if not isinstance(loaded, type):
        raise LookupError(f"provider {name!r} ({value}) is not a class")
    if not callable(getattr(loaded, "from_target", None)):
        raise LookupError(f"provider {name!r} ({value}) has no from_target(target) to build it")
    return cast(type[Provider], loaded)
