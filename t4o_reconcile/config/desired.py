"""The desired side of a diff: a ``Repository`` turned into the engine's ``Snapshot``.

See the table in ``engine.snapshot``. Only managed sections appear; an optional field
the file leaves out is unmanaged (absent from the item) while an explicit ``null`` is
managed; every other field carries its value or its default.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel

from t4o_reconcile import national_id, normalize
from t4o_reconcile.config.decommission import decommissioned, ended_sections
from t4o_reconcile.config.repository import Repository, TenantEntry
from t4o_reconcile.config.tenant_models import Billing, Defaults, KeepsWritten
from t4o_reconcile.engine import sections as registry
from t4o_reconcile.engine.snapshot import (
    Item,
    SafetyOptions,
    Secret,
    TenantSnapshot,
    UnresolvedSecret,
)
from t4o_reconcile.sharing import shared

# What the API holds for these always-present singletons when nothing was set
# (docs/api.md, TenantCreate): ``defaults: null`` / ``billing: null`` mean "reset".
_RESET: dict[str, BaseModel] = {
    "defaults": Defaults(),
    "billing": Billing(licenses=0),
}


def agreements_snapshot(repo: Repository) -> dict[str, Item] | None:
    """The agreements file as items; None when there is none (agreements unmanaged)."""
    if repo.agreements is None:
        return None
    return {
        a.agreement.name: Item(
            {"name": a.agreement.name, "customer_number": a.agreement.customer_number}
        )
        for a in repo.agreements
    }


def tenant_snapshot(entry: TenantEntry) -> TenantSnapshot:
    tenant = entry.tenant
    sections: dict[str, dict[str, Item]] = {
        "identity": {"": Item(_identity(entry), written=_written(tenant.contact, "contact."))}
    }

    for name in ("defaults", "billing", "invoicing"):
        if tenant.managed(name):
            model = getattr(tenant, name) or _RESET.get(name)
            # invoicing: null manages nothing field by field: its numbers cannot be reset.
            fields = fields_of(model) if model is not None else {}
            if isinstance(model, Billing):
                # Left out, there is none: the API clears it when program access is given.
                fields["confirmation_email"] = model.confirmation_email
            sections[name] = {"": Item(fields)}

    if tenant.managed("agreement"):
        sections["agreement"] = {"": Item({"name": tenant.agreement})}

    # The email account (none: the system account) and every collection: item by item.
    for section in registry.each():
        if section.part_of_tenant or not section.deletable or not tenant.managed(section.name):
            continue
        value = getattr(tenant, section.name)
        models = [] if value is None else [value] if section.singleton else value
        items: dict[str, Item] = {}
        for index, model in enumerate(models):
            where = (section.name,) if section.singleton else (section.name, index)
            fields = _item_fields(entry, section, model, where)
            items[section.key(fields)] = Item(fields, written=_written(model))
        sections[section.name] = items

    safety = None
    if tenant.safety is not None:
        safety = SafetyOptions(
            max_delete_share=tenant.safety.max_delete_share,
            min_delete_items=tenant.safety.min_delete_items,
        )
    if decommissioned(entry):
        ended_sections(sections)
    return TenantSnapshot(
        slug=tenant.slug,
        sections=sections,
        source=str(entry.source),
        safety=safety,
        lifecycle=tenant.lifecycle,
    )


def _item_fields(
    entry: TenantEntry, section: registry.Section, model: BaseModel, where: tuple[str | int, ...]
) -> dict[str, Any]:
    # What to do with each field is worked out once per section and model class
    # (``_recipe``): this runs for every item of every tenant (38 per generated tenant).
    fields: dict[str, Any] = {}
    values = model.__dict__
    written = model.__pydantic_fields_set__
    for name, optional, how in _recipe(section, type(model)):
        if how is _SECRET:
            fields[name] = shared(_secret(entry, (*where, name)))
            continue
        if optional and name not in written:
            continue  # an optional field left out: unmanaged
        value = values[name]
        if isinstance(value, BaseModel):
            value = fields_of(value)
        if how is _FILLED:
            value = section.filled(name, value)
        elif how is not None and isinstance(value, str):
            value = how(value)  # normalised as the live side is
        fields[name] = shared(value)
    return fields


# How ``_item_fields`` treats a field beside taking its value: filled with what its
# missing entries mean, or replaced by its resolved secret; a callable normalises it.
_FILLED = object()
_SECRET = object()


@functools.cache
def _recipe(section: registry.Section, model: type[BaseModel]) -> tuple[tuple[str, bool, Any], ...]:
    """Each field of ``model`` as an item of ``section``: its name, whether it is optional
    with a None default (left out: unmanaged), and how it is treated: a secret field is
    its resolved secret; no field is both normalised and filled."""
    recipe: list[tuple[str, bool, Any]] = []
    for name, optional in _field_defaults(model):
        how: Any = None
        if name in section.secret_fields:
            how = _SECRET
        elif name in section.missing_means:
            if name in section.normalised_from_file:
                raise ValueError(f"{section.name}.{name}: both normalised and filled")
            how = _FILLED
        elif name in section.normalised_from_file:
            how = section.normalisers[name]
        recipe.append((name, optional, how))
    for name in section.secret_fields:
        if name not in model.model_fields:
            recipe.append((name, False, _SECRET))
    return tuple(recipe)


def _written(model: BaseModel | None, prefix: str = "") -> dict[str, str] | None:
    """The file's own form of the fields normalising changed (``KeepsWritten``)."""
    written = model.written if isinstance(model, KeepsWritten) else None
    return {prefix + name: text for name, text in written.items()} if written else None


def _identity(entry: TenantEntry) -> dict[str, Any]:
    tenant = entry.tenant
    fields: dict[str, Any] = {
        "name": tenant.name,
        "organization_number": tenant.organization_number,
        "personal_number": _personal_number(entry),
    }
    if tenant.state is not None:
        fields["state"] = tenant.state
    if tenant.user_administration is not None:
        fields["user_administration"] = tenant.user_administration
    for name in ("contact", "address"):
        if tenant.managed(name):
            value = getattr(tenant, name)
            fields[name] = fields_of(value) if value is not None else None
    address = fields.get("address")
    if address:
        address["postal_code"] = normalize.postal_code(address["postal_code"])
        address["country"] = normalize.country(address["country"])
    return fields


def _personal_number(entry: TenantEntry) -> Any:
    """Personal data: a ``Secret`` (compared by fingerprint, shown by its last digits)
    whether the file writes it or gives it by reference."""
    number = entry.tenant.personal_number
    if number is None:
        return None
    if isinstance(number, str):
        return Secret(number, "", national_id.last_digits(number))
    return _secret(entry, ("personal_number",))


def fields_of(model: BaseModel) -> dict[str, Any]:
    """The managed fields of a model: set explicitly, or with a non-None default."""
    fields: dict[str, Any] = {}
    # Read the instance dict directly: this runs ~40 times per tenant, and pydantic's
    # attribute and model_fields accessors made it a third of a 1,000-tenant plan's diff.
    values = model.__dict__
    written = model.__pydantic_fields_set__
    for name, optional in _field_defaults(type(model)):
        if optional and name not in written:
            continue  # an optional field left out: unmanaged
        value = values[name]
        if isinstance(value, BaseModel):
            value = fields_of(value)
        fields[name] = value
    return fields


@functools.cache
def _field_defaults(model: type[BaseModel]) -> tuple[tuple[str, bool], ...]:
    """Each field's name and whether it is optional with a None default."""
    return tuple((name, info.default is None) for name, info in model.model_fields.items())


def _secret(entry: TenantEntry, path: tuple[str | int, ...]) -> Any:
    value = entry.secrets.get(path)
    if value is None:
        # Loaded without resolving (should not happen): planning it is an error.
        return UnresolvedSecret("", "the secret was not resolved")
    return value
