"""A value is shown as the file writes it (``+47 21 00 00 00``, ``1503.98.76547``, an
IBAN in groups), while the plan compares its normal form: a file that writes the live
value another way plans no change. The written form travels in the plan file (the
action's ``written``) and comes back from it; personal numbers stay masked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.planfile import load_plan, save_plan
from t4o_reconcile.engine.snapshot import Snapshot
from t4o_reconcile.render.json import render_json
from t4o_reconcile.render.markdown import render_markdown
from t4o_reconcile.render.text import render_text
from tests.config.conftest import desired_of
from tests.engine.builders import live_twin, snapshot

PERSONAL = "15108695088"
FILE = f"""\
slug: club
name: Club
personal_number: "{PERSONAL}"
contact: {{email: post@club.no, phone: "+47 21 00 00 00"}}
users:
  - {{email: boss@club.no, name: Boss, role: owner, programs: {{invoicing: admin}}}}
bank_accounts:
  - account_number: "1503.98.76547"
    iban: NO74 1503 9876 547
    invoice_account: true
    default_for_payments: true
"""


def desired(tmp_path: Path, text: str = FILE) -> Snapshot:
    (tmp_path / "club.yaml").write_text(text, encoding="utf-8")
    result = load_repository(tmp_path, environ={})
    assert result.repository is not None, result.problems
    return desired_of(result.repository)


def planned(want: Snapshot, have: Snapshot) -> Plan:
    return make_plan(want, have, target="t")


def test_a_new_value_is_shown_as_written_and_compared_normalised(tmp_path: Path) -> None:
    want = desired(tmp_path)
    identity = want.tenants["club"].sections["identity"][""]
    assert identity.fields["contact"]["phone"] == "+4721000000"  # what is compared
    assert identity.written == {"contact.phone": "+47 21 00 00 00"}

    have = live_twin(want.tenants["club"])
    assert not planned(want, snapshot(have)).has_changes  # the same value, written otherwise

    have.sections["identity"][""].fields["contact"]["phone"] = "+4721000099"
    del have.sections["bank_accounts"]["15039876547"]
    plan = planned(want, snapshot(have))
    text = render_text(plan, color=False)
    markdown = render_markdown(plan)
    assert 'contact.phone: "+4721000099" → "+47 21 00 00 00"' in text  # live: the API's form
    assert '+     contact.phone: "+47 21 00 00 00"' in markdown
    assert '+     account_number: "1503.98.76547"' in markdown
    assert '+     iban: "NO74 1503 9876 547"' in markdown
    assert "+4721000000" not in text + markdown


def test_the_written_form_travels_in_the_plan_file(tmp_path: Path) -> None:
    want = desired(tmp_path)
    have = live_twin(want.tenants["club"])
    have.sections["identity"][""].fields["contact"]["phone"] = "+4721000099"
    plan = planned(want, snapshot(have))
    path = tmp_path / "club.plan"
    save_plan(plan, path, key=None)
    saved = path.read_text(encoding="utf-8")
    (action,) = json.loads(saved.splitlines()[1])["actions"]
    assert action["written"] == {"contact.phone": "+47 21 00 00 00"}
    assert action["after"]["contact"]["phone"] == "+4721000000"
    loaded = load_plan(path, key=None, require_seal=False)
    assert render_text(loaded, color=False) == render_text(plan, color=False)
    document = json.loads(render_json(loaded))
    assert document["tenants"][0]["actions"][0]["written"] == action["written"]


def test_a_personal_number_is_never_kept_as_written(tmp_path: Path) -> None:
    want = desired(tmp_path, FILE.replace(f'"{PERSONAL}"', '"151086 95088"'))
    plan = planned(want, Snapshot())
    path = tmp_path / "club.plan"
    save_plan(plan, path, key=None)
    outputs = [render_text(plan, color=False), render_markdown(plan), render_json(plan)]
    for output in [*outputs, path.read_text(encoding="utf-8")]:
        assert "95088" not in output and "151086" not in output


def test_a_written_form_in_a_plan_file_must_be_strings(tmp_path: Path) -> None:
    from t4o_reconcile.engine.document import action_from_document

    entry: dict[str, Any] = {
        "action": "update",
        "tenant": "club",
        "section": "identity",
        "key": "",
        "before": {},
        "after": {},
        "changed_paths": [],
        "sensitive_paths": [],
        "reason": "",
        "version": None,
        "written": {"contact.phone": 4721000000},
    }
    with pytest.raises(TypeError):
        action_from_document(entry)
    entry["written"] = {"contact.phone": "+47 21 00 00 00"}
    assert action_from_document(entry).written == {"contact.phone": "+47 21 00 00 00"}


def test_the_live_side_is_shown_as_the_api_answered(tmp_path: Path) -> None:
    from t4o_reconcile.api.live_snapshot import api_forms, collection

    answer = {"email": "post@club.no", "phone": "+47 21 00 00 99"}
    assert api_forms(answer, ("phone",), "contact.") == {"contact.phone": "+47 21 00 00 99"}
    assert api_forms({"phone": "+4721000099"}, ("phone",)) is None
    accounts = collection(
        "bank_accounts",
        [{"account_number": "1234 56 78903", "iban": None, "swift": None, "version": "1"}],
    )
    assert accounts["12345678903"].written == {"account_number": "1234 56 78903"}

    want = desired(tmp_path)
    have = live_twin(want.tenants["club"])
    identity = have.sections["identity"][""]
    identity.fields["contact"]["phone"] = "+4721000099"
    identity.written = {"contact.phone": "+47 21 00 00 99"}
    have.sections["bank_accounts"].update(accounts)
    plan = planned(want, snapshot(have))
    text = render_text(plan, color=False)
    assert 'contact.phone: "+47 21 00 00 99" → "+47 21 00 00 00"' in text
    assert 'account_number: "1234 56 78903"' in text  # the deleted account, as answered
    path = tmp_path / "club.plan"
    save_plan(plan, path, key=None)
    assert render_text(load_plan(path, key=None, require_seal=False), color=False) == text
