"""The config digest: changes with any managed value, including a secret, and hides it."""

from __future__ import annotations

from t4o_reconcile.engine.digest import config_digest
from t4o_reconcile.engine.snapshot import SafetyOptions, Secret

from .builders import EVENTOR_TOKEN, agreements, desired_tenant, snapshot


def test_the_digest_is_stable_for_equal_configurations() -> None:
    a = config_digest(snapshot(desired_tenant(), agreements=agreements(("NOF", "1"))))
    b = config_digest(snapshot(desired_tenant(), agreements=agreements(("NOF", "1"))))
    assert a == b and a.startswith("sha256:")


def test_any_managed_change_changes_the_digest() -> None:
    base = config_digest(snapshot(desired_tenant()))
    changed = desired_tenant()
    changed.sections["billing"][""].fields["licenses"] = 6
    assert config_digest(snapshot(changed)) != base
    safety = desired_tenant()
    safety.safety = SafetyOptions(max_delete_share=0.5)
    assert config_digest(snapshot(safety)) != base
    assert config_digest(snapshot(desired_tenant(), agreements={})) != base


def test_a_changed_secret_value_changes_the_digest_which_never_contains_it() -> None:
    base = desired_tenant()
    other = desired_tenant()
    other.sections["connections"]["eventor-norway"].fields["token"] = Secret(
        "another-token", "env:OK_SKOGEN_EVENTOR"
    )
    digest = config_digest(snapshot(base))
    assert config_digest(snapshot(other)) != digest
    assert EVENTOR_TOKEN not in digest
