"""A recognisable secret planted in every secret field never appears in any output."""

from __future__ import annotations

from pathlib import Path

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.planfile import load_plan, save_plan
from t4o_reconcile.engine.sections import SECRET_FIELDS
from t4o_reconcile.engine.snapshot import Fingerprint, Secret
from t4o_reconcile.render.json import render_json
from t4o_reconcile.render.markdown import render_markdown
from t4o_reconcile.render.text import render_text
from tests.engine.builders import desired_tenant, live_twin, snapshot

PLANTED = "PLANTED-s3cr3t-Zq9"


def _planted_plan() -> Plan:
    new, changed = desired_tenant("ok-new"), desired_tenant("ok-changed")
    have = live_twin(desired_tenant("ok-changed"))
    for tenant in (new, changed):
        for section, names in SECRET_FIELDS.items():
            for item in tenant.sections[section].values():
                for name in names:
                    item.fields[name] = Secret(f"{PLANTED}-{section}", "env:PLANTED")
    for section, names in SECRET_FIELDS.items():
        for item in have.sections[section].values():
            for name in names:
                item.fields[name] = Fingerprint().answered("another value", False)
    return make_plan(snapshot(new, changed), snapshot(have), target="t")


def test_no_output_format_nor_the_plan_file_contains_a_secret(tmp_path: Path) -> None:
    plan = _planted_plan()
    assert plan.counts()["update"] >= 2  # the secrets really are in the plan
    path = tmp_path / "plan.json"
    save_plan(plan, path, key=None)
    outputs = {
        "text": render_text(plan, color=False),
        "color": render_text(plan, color=True),
        "markdown": render_markdown(plan),
        "json": render_json(plan),
        "plan file": path.read_text(),
        "reloaded": render_text(load_plan(path, key=None, require_seal=False), color=False),
        "repr": repr(plan),
    }
    for name, text in outputs.items():
        assert PLANTED not in text, name
