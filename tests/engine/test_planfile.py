"""The saved plan: round-trips, holds versions and digest, never a secret value."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.digest import config_digest
from t4o_reconcile.engine.document import plan_to_dict
from t4o_reconcile.engine.order import flatten
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.planfile import load_plan, save_plan
from t4o_reconcile.engine.sensitive import SavedSecret
from t4o_reconcile.engine.snapshot import Fingerprint
from t4o_reconcile.errors import PlanFileError

from .builders import EVENTOR_TOKEN, agreements, desired_tenant, live_twin, snapshot


def _plan() -> Plan:
    want = desired_tenant(agreement="NOF")
    have = live_twin(desired_tenant())
    have.sections["connections"]["eventor-norway"].fields["token"] = Fingerprint().answered(
        "another token", False
    )
    have.sections["billing"][""].fields["licenses"] = 1
    desired = snapshot(want, desired_tenant("ok-new"), agreements=agreements(("NOF", "1")))
    plan = make_plan(
        desired,
        snapshot(have, agreements={}),
        target="sandbox",
        only={"ok-skogen", "ok-new"},
        delete_unmanaged=True,
    )
    plan.config_digest = config_digest(desired)
    return plan


def test_a_saved_plan_loads_back_equal(tmp_path: Path) -> None:
    plan = _plan()
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    loaded = load_plan(path)
    assert plan_to_dict(loaded) == plan_to_dict(plan)
    assert loaded.config_digest == plan.config_digest
    assert (loaded.only, loaded.delete_unmanaged) == (plan.only, plan.delete_unmanaged)
    assert [t.versions for t in loaded.tenants] == [t.versions for t in plan.tenants]
    existing = next(t for t in loaded.tenants if t.slug == "ok-skogen")
    assert existing.versions  # the live tenant's versions were read


def test_secrets_load_back_as_markers_naming_their_source(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    save_plan(_plan(), path)
    assert EVENTOR_TOKEN not in path.read_text()
    loaded = load_plan(path)
    token = next(a for a in flatten(loaded) if a.key == "eventor-norway" and a.kind == "update")
    assert token.after == {"token": SavedSecret("env:OK_SKOGEN_EVENTOR")}


def test_saving_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("old")
    save_plan(_plan(), path)
    assert json.loads(path.read_text())["kind"] == "t4o-reconcile-plan"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json", "expected a JSON plan file"),
        ('{"kind": "something"}', "expected a plan file written by 'plan --out'"),
        ('{"kind": "t4o-reconcile-plan", "format_version": 9}', "expected format_version 1"),
    ],
)
def test_a_bad_plan_file_is_a_clear_error(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(PlanFileError, match=expected):
        load_plan(path)


@pytest.mark.parametrize(
    ("cut", "expected"),
    [
        (lambda text: text[: len(text) // 2], r"plan.json:\d+:\d+: expected a JSON plan file: "),
        (lambda text: text.replace('"actions": [', '"actions": [,', 1), r"plan.json:\d+:\d+: "),
        (
            lambda text: text.replace('\n  "tenants": [', '\n  "tenants": {"x": [', 1),
            "expected an array",
        ),
        (lambda text: text.replace('"slug": "ok-new",', '"slog": "ok-new",', 1), "malformed"),
    ],
)
def test_a_broken_plan_file_names_where_it_breaks(
    tmp_path: Path, cut: Callable[[str], str], expected: str
) -> None:
    path = tmp_path / "plan.json"
    save_plan(_plan(), path)
    path.write_text(cut(path.read_text()))
    with pytest.raises(PlanFileError, match=expected):
        load_plan(path)


def test_a_plan_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b'{"kind": "t4o-reconcile-plan", "x": "\xff"}')
    with pytest.raises(PlanFileError, match="UTF-8"):
        load_plan(path)


def test_a_big_saved_plan_loads_its_later_tenants_packed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beyond PACK_FROM actions, each tenant read from the file is held packed, as the
    planner holds them, and the plan is the same plan."""
    from t4o_reconcile.engine import planfile

    plan = _plan()
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    first = len(plan.tenants[0].actions)
    monkeypatch.setattr(planfile, "PACK_FROM", first)

    loaded = load_plan(path)

    assert [t.packed for t in loaded.tenants] == [False] + [True] * (len(plan.tenants) - 1)
    assert plan_to_dict(loaded) == plan_to_dict(plan)


def test_the_streamed_plan_file_is_the_whole_documents_bytes(tmp_path: Path) -> None:
    """Saved a tenant at a time, the file is byte for byte the document that
    ``json.dumps(..., indent=2)`` of the whole plan wrote before: older readers and the
    schema see the same file."""
    from t4o_reconcile.engine.document import plan_document
    from t4o_reconcile.engine.planfile import PLAN_FILE_KIND
    from t4o_reconcile.engine.sensitive import as_plan_file

    plan = _plan()
    document = plan_document(plan, secret=as_plan_file)
    document["kind"] = PLAN_FILE_KIND
    document["config_digest"] = plan.config_digest
    document["reference_digest"] = plan.reference_digest
    document["plan_id"] = plan.plan_id
    document["agreement_versions"] = dict(plan.agreement_versions)
    document["only"] = plan.only
    document["delete_unmanaged"] = plan.delete_unmanaged
    for entry, tenant in zip(document["tenants"], plan.tenants, strict=True):
        entry["versions"] = dict(tenant.versions)
        entry["uncompared"] = list(tenant.uncompared)
    path = tmp_path / "plan.json"
    save_plan(plan, path)
    expected = json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert path.read_text(encoding="utf-8") == expected


def test_the_config_digest_is_that_of_each_tenants_canonical_document_in_slug_order() -> None:
    """Fed a tenant at a time in any order (plan streams the files), the digest is the
    SHA-256 of the agreements' canonical JSON and each tenant's hash, in slug order."""
    import hashlib
    import hmac

    from t4o_reconcile.engine.digest import ConfigDigest
    from t4o_reconcile.engine.snapshot import Secret

    key = b"k" * 32

    def secret(value: object) -> object:
        assert isinstance(value, Secret)
        return {"secret": hmac.new(key, value.value.encode(), "sha256").hexdigest()}

    def dump(value: object) -> bytes:
        return json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=secret
        ).encode()

    want = desired_tenant(agreement="NOF")
    for desired in (
        snapshot(want, desired_tenant("ok-new"), agreements=agreements(("NOF", "1"))),
        snapshot(),
    ):
        expected = hashlib.sha256(
            dump(
                None
                if desired.agreements is None
                else {k: item.fields for k, item in desired.agreements.items()}
            )
        )
        for slug, tenant in sorted(desired.tenants.items()):
            document = {
                "sections": {
                    section: {k: item.fields for k, item in items.items()}
                    for section, items in sorted(tenant.sections.items())
                },
                "safety": None
                if tenant.safety is None
                else [tenant.safety.max_delete_share, tenant.safety.min_delete_items],
            }
            expected.update(hashlib.sha256(dump(slug) + b":" + dump(document)).digest())
        assert config_digest(desired, key) == "sha256:" + expected.hexdigest()
        backwards = ConfigDigest(key)
        for tenant in reversed(list(desired.tenants.values())):
            backwards.add(tenant)
        assert backwards.hexdigest(desired.agreements) == config_digest(desired, key)
