"""The saved plan: round-trips, holds versions and digest, never a secret value."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from t4o_reconcile import __version__
from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.digest import config_digest
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.planfile import (
    PLAN_FILE_KIND,
    check_tool_version,
    iter_plan_file,
    load_plan,
    save_plan,
)
from t4o_reconcile.engine.sensitive import SavedSecret
from t4o_reconcile.engine.snapshot import Fingerprint
from t4o_reconcile.errors import PlanFileError
from t4o_reconcile.render.text import render_text
from tests.engine.builders import flatten
from tests.render.plans import json_document

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


def _save(plan: Plan, path: Path) -> None:
    save_plan(plan, path, key=None)


def _load(path: Path) -> Plan:
    return load_plan(path, key=None, require_seal=False)


def test_a_saved_plan_loads_back_equal(tmp_path: Path) -> None:
    plan = _plan()
    path = tmp_path / "plan.json"
    _save(plan, path)
    loaded = _load(path)
    assert json_document(loaded) == json_document(plan)
    assert loaded.config_digest == plan.config_digest
    assert (loaded.only, loaded.delete_unmanaged) == (plan.only, plan.delete_unmanaged)
    assert [t.versions for t in loaded.tenants] == [t.versions for t in plan.tenants]
    existing = next(t for t in loaded.tenants if t.slug == "ok-skogen")
    assert existing.versions  # the live tenant's versions were read
    assert loaded.tool_version == __version__


def test_the_file_is_a_header_a_line_per_tenant_and_renders_as_made(tmp_path: Path) -> None:
    plan = _plan()
    path = tmp_path / "plan.json"
    _save(plan, path)
    lines = path.read_bytes().splitlines()
    header = json.loads(lines[0])
    assert header["kind"] == PLAN_FILE_KIND and header["format_version"] == 3
    assert header["tenant_count"] == len(plan.tenants) == len(lines) - 1
    assert [json.loads(line)["slug"] for line in lines[1:]] == plan.tenants.slugs()
    # The fields keep the order the plan made them in: shown, it reads as plan printed it.
    assert render_text(_load(path), color=False) == render_text(plan, color=False)


def test_secrets_load_back_as_markers_naming_their_source(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    _save(_plan(), path)
    assert EVENTOR_TOKEN not in path.read_text()
    loaded = _load(path)
    token = next(a for a in flatten(loaded) if a.key == "eventor-norway" and a.kind == "update")
    assert token.after == {"token": SavedSecret("env:OK_SKOGEN_EVENTOR")}


def test_saving_replaces_the_file_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("old")
    _save(_plan(), path)
    assert json.loads(path.read_bytes().splitlines()[0])["kind"] == "t4o-reconcile-plan"
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "found an empty file"),
        ("not json\n", r"plan.json:1:1: expected JSON"),
        ('{"kind": "something"}\n', "plan.json:1:1: expected a plan file written by 'plan --out'"),
        ('{"kind": "t4o-reconcile-plan", "format_version": 9}\n', "expected format_version 3"),
        ('{\n  "kind": "t4o-reconcile-plan"\n}\n', "made by an older version"),
        ('{"kind": "t4o-reconcile-plan"}', "plan.json:1:31: expected the line to end"),
    ],
)
def test_a_bad_plan_file_is_a_clear_error(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "plan.json"
    path.write_text(content)
    with pytest.raises(PlanFileError, match=expected):
        _load(path)


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


@pytest.mark.parametrize(
    ("cut", "expected"),
    [
        (lambda text: "".join(_lines(text)[:-1]), r"expected 2 tenant lines .* found 1: the file"),
        (lambda text: text[: len(text) - 40], r"plan.json:3:\d+: expected the line to end"),
        (lambda text: text.replace('"actions":[', '"actions":[,', 1), r"plan.json:2:\d+: expected"),
        (
            lambda text: text.replace('"slug":"ok-new",', '"slog":"ok-new",', 1),
            r"plan.json:\d:1: expected a tenant of the plan: 'slug' is missing",
        ),
        (
            lambda text: text.replace('"tenant":"ok-new"', '"tenant":"ok-skogen"', 1),
            "is not an action of tenant 'ok-new'",
        ),
        (lambda text: text + _lines(text)[-1], r"plan.json:4:1: expected the end of the plan"),
        (
            lambda text: _lines(text)[0] + _lines(text)[1] + _lines(text)[1],
            "plan.json:3:1: tenant 'ok-new' appears twice",
        ),
        (
            lambda text: text.replace('"plan_id":', '"plan_idx":', 1),
            "plan.json:1:1: expected a plan file's header: 'plan_id' is missing",
        ),
    ],
)
def test_a_broken_plan_file_names_where_it_breaks(
    tmp_path: Path, cut: Callable[[str], str], expected: str
) -> None:
    path = tmp_path / "plan.json"
    _save(_plan(), path)
    path.write_text(cut(path.read_text()))
    with pytest.raises(PlanFileError, match=expected):
        _load(path)


def test_a_plan_file_that_is_not_utf8_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(b'{"kind": "t4o-reconcile-plan", "x": "\xff"}\n')
    with pytest.raises(PlanFileError, match=r"plan\.json:1:38: expected UTF-8"):
        _load(path)


def test_a_big_saved_plan_loads_into_the_store_on_disk(tmp_path: Path) -> None:
    """Loaded past the store's budget, each tenant's line is kept on disk as it was
    read, and the plan is the same plan."""
    from t4o_reconcile.engine import planstore

    plan = _plan()
    path = tmp_path / "plan.json"
    _save(plan, path)
    budget = planstore.MEMORY_BUDGET
    try:
        planstore.MEMORY_BUDGET = 0
        loaded = _load(path)
    finally:
        planstore.MEMORY_BUDGET = budget
    assert loaded.tenants.spilled() == len(plan.tenants)
    assert json_document(loaded) == json_document(plan)
    assert b"".join(iter_plan_file(loaded)) == path.read_bytes()


def test_a_plan_made_by_another_version_is_refused_for_apply(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    plan = _plan()
    plan.tool_version = "0.0.1"
    _save(plan, path)
    loaded = _load(path)
    with pytest.raises(PlanFileError, match=r"made by t4o-reconcile 0\.0\.1, this is "):
        check_tool_version(loaded, path)
    check_tool_version(_plan(), path)  # this version's own


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
