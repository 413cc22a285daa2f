"""When the API refuses one tenant's write at apply time, the other tenants are still
applied, apply exits 1 and its report says exactly what was done; once the cause is
fixed, apply converges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, cli
from tests.e2e.helpers import TAKEN_NUMBER, edit_tenant, items, other_partner_holds, read_json

pytestmark = pytest.mark.e2e


def test_a_refused_tenant_fails_alone_and_a_fixed_config_converges(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    other_partner_holds(server, TAKEN_NUMBER)

    def use_taken(doc: Any) -> None:
        doc["organization_number"] = TAKEN_NUMBER

    edit_tenant(examples_copy, "kartverkstedet", use_taken)
    report = tmp_path / "report.json"

    failed = cli("apply", examples_copy, "--auto-approve", "--report", report, env=server.env())

    assert failed.returncode == 1
    assert "kartverkstedet" in failed.stderr and "organization" in failed.stderr
    assert "Run apply again" in failed.stderr
    document = read_json(report)
    assert document["ok"] is False
    outcomes = {entry["address"]: entry["outcome"] for entry in document["actions"]}
    kartverkstedet = {a: o for a, o in outcomes.items() if a.startswith("kartverkstedet")}
    assert kartverkstedet.pop("kartverkstedet") == "failed"
    assert kartverkstedet and set(kartverkstedet.values()) == {"skipped"}
    others = {a: o for a, o in outcomes.items() if not a.startswith("kartverkstedet")}
    assert set(others.values()) == {"applied"}
    assert document["counts"] == {
        "applied": len(others),
        "failed": 1,
        "skipped": len(kartverkstedet),
    }
    assert document["tenants"]["kartverkstedet"] == {
        "applied": 0,
        "failed": 1,
        "skipped": len(kartverkstedet),
    }
    with server.client() as client:
        slugs = {t["slug"] for t in items(client, "/v1/tenants")}
    assert slugs == {
        "ifk-lidingo-sok",
        "il-fjellrev",
        "nordmarka-ok",
        "ok-skogen",
        "ok-skogen-ungdom",
    }

    edit_tenant(
        examples_copy, "kartverkstedet", lambda doc: doc.update(organization_number="987654325")
    )
    fixed = cli("apply", examples_copy, "--auto-approve", env=server.env())
    replanned = cli("plan", examples_copy, "--detailed-exitcode", env=server.env())

    assert fixed.returncode == 0, fixed.stderr
    assert replanned.returncode == 0, replanned.stdout
