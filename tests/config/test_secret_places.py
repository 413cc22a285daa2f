"""Where a desired secret may be: ``engine.comparisons.pending`` asks the API only about
the registry's secret fields and the personal number, so the desired snapshot must put a
``Secret`` nowhere else (one elsewhere would be reported as not compared, never taken as
unchanged, but the plan would be partial for nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from t4o_reconcile.engine.comparisons import pending, secret_fields
from t4o_reconcile.engine.snapshot import Fingerprint, Item, Secret, TenantSnapshot
from t4o_reconcile.workflow import load_desired
from tests.config.conftest import EXAMPLES


def secrets_in(value: Any, at: str) -> list[str]:
    if isinstance(value, Secret):
        return [at]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in secrets_in(v, f"{at}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in secrets_in(v, f"{at}[{i}]")]
    return []


@pytest.mark.usefixtures("example_env")
def test_every_secret_of_the_examples_is_where_pending_looks() -> None:
    _, desired = load_desired(EXAMPLES)
    allowed = {f"{section}.{name}" for section, names in secret_fields() for name in names}
    found: set[str] = set()
    for tenant in desired.tenants.values():
        for section, items in tenant.sections.items():
            for item in items.values():
                for name, value in item.fields.items():
                    found.update(secrets_in(value, f"{section}.{name}"))

    assert found == allowed  # every kind of secret is in the examples, and only there


def test_pending_asks_about_each_secret_stored_and_not_yet_compared() -> None:
    want = TenantSnapshot(
        "club",
        {
            "identity": {"": Item({"name": "Club", "personal_number": Secret("15037810034")})},
            "email_account": {"": Item({"password": Secret("pw"), "username": "u"})},
            "connections": {
                "eventor-norway": Item({"token": Secret("t1")}),
                "eventor-sweden": Item({"token": Secret("t2")}),
            },
        },
    )
    have = TenantSnapshot(
        "club",
        {
            "identity": {"": Item({"name": "Club", "personal_number": Fingerprint()})},
            "email_account": {"": Item({"password": Fingerprint().answered("pw", True)})},
            "connections": {"eventor-norway": Item({"token": Fingerprint()})},
        },
    )

    asked = {(c.section, c.key, c.field, c.value) for c in pending(want, have)}

    assert asked == {
        ("identity", "", "personal_number", "15037810034"),
        ("connections", "eventor-norway", "token", "t1"),
    }
