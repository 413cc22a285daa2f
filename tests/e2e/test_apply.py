"""`t4o-reconcile apply`: it converges, reports what it did, asks before writing, and
refuses deletions that need --allow-deletes before it writes anything."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import EXAMPLES, Server, base_env, cli
from tests.e2e.helpers import (
    EXTRA_BANK_ACCOUNT,
    EXTRA_USER,
    divergent_env,
    edit_tenant,
    items,
    live_state,
    make_divergent,
    read_json,
)

pytestmark = pytest.mark.e2e


def test_apply_then_plan_shows_no_changes_and_the_report_tells_each_outcome(
    server: Server, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"

    applied = cli("apply", EXAMPLES, "--auto-approve", "--report", report, env=server.env())
    replanned = cli("plan", EXAMPLES, "--detailed-exitcode", env=server.env())

    assert applied.returncode == 0, applied.stderr
    assert replanned.returncode == 0, replanned.stdout
    assert "No changes" in replanned.stdout
    document = read_json(report)
    assert document["format_version"] == 1
    assert document["ok"] is True
    actions = document["actions"]
    assert {entry["outcome"] for entry in actions} == {"applied"}
    assert document["counts"] == {"applied": len(actions), "failed": 0, "skipped": 0}
    assert set(document["tenants"]) == {p.stem for p in EXAMPLES.glob("[!_]*.yaml")}
    assert f"{len(actions)} applied, 0 failed, 0 skipped" in applied.stdout


def test_apply_without_auto_approve_and_no_terminal_refuses_and_writes_nothing(
    server: Server,
) -> None:
    done = cli("apply", EXAMPLES, env=server.env())  # stdin is closed, not a terminal

    assert done.returncode == 1
    assert "--auto-approve" in done.stderr and "not a terminal" in done.stderr
    with server.client() as client:
        assert items(client, "/v1/tenants") == []
        assert items(client, "/v1/agreements") == []


def test_deleting_users_and_bank_accounts_needs_allow_deletes_and_nothing_is_written_without(
    server: Server, tmp_path: Path
) -> None:
    divergent = tmp_path / "divergent"
    shutil.copytree(EXAMPLES, divergent)
    make_divergent(divergent)
    setup = cli("apply", divergent, "--auto-approve", env=divergent_env(server))
    assert setup.returncode == 0, setup.stderr
    before = live_state(server)

    refused = cli("apply", EXAMPLES, "--auto-approve", env=server.env())

    assert refused.returncode == 1
    assert "--allow-deletes" in refused.stderr and "nothing was written" in refused.stderr
    assert f"deletes bank account {EXTRA_BANK_ACCOUNT}" in refused.stderr
    assert f"deletes user {EXTRA_USER}" in refused.stderr
    assert live_state(server) == before

    allowed = cli("apply", EXAMPLES, "--auto-approve", "--allow-deletes", env=server.env())
    # gammel-klubb, live with no file, is kept outside Git on purpose (else exit 4).
    kept = tmp_path / "kept-outside.txt"
    kept.write_text("gammel-klubb\n")
    replanned = cli(
        "plan", EXAMPLES, "--detailed-exitcode", "--unmanaged-list", kept, env=server.env()
    )

    assert allowed.returncode == 0, allowed.stderr
    assert replanned.returncode == 0, replanned.stdout
    accounts = {a["account_number"] for a in live_state(server)["ok-skogen"]["bank-accounts"]}
    assert EXTRA_BANK_ACCOUNT not in accounts


TEMPLATES = [
    {"kind": kind, "language": language, "name": "T", "subject": "{Number}", "body": "Hei"}
    for kind in ("invoice", "order")
    for language in ("nb", "en")
]


def test_a_tenant_files_safety_section_sets_its_own_delete_threshold(
    server: Server, examples_copy: Path
) -> None:
    """ok-skogen-ungdom manages 11 live items plus 4 templates; removing the 4 templates
    is more than the default 25 % of them, so apply refuses — until the tenant's own
    safety section allows deleting any share."""

    def with_templates(doc: Any) -> None:
        doc["email_templates"] = TEMPLATES
        doc["users"][0]["custom_invoice_email"] = True  # templates need a holder

    edit_tenant(examples_copy, "ok-skogen-ungdom", with_templates)
    setup = cli("apply", examples_copy, "--auto-approve", env=server.env())
    assert setup.returncode == 0, setup.stderr
    edit_tenant(examples_copy, "ok-skogen-ungdom", lambda doc: doc.update(email_templates=[]))

    refused = cli("apply", examples_copy, "--auto-approve", env=server.env())

    assert refused.returncode == 1
    assert "ok-skogen-ungdom: needs --allow-deletes (deletes 4 of" in refused.stderr
    assert len(templates_of(server, "ok-skogen-ungdom")) == 4

    edit_tenant(
        examples_copy, "ok-skogen-ungdom", lambda doc: doc.update(safety={"max_delete_share": 1.0})
    )
    allowed = cli("apply", examples_copy, "--auto-approve", env=server.env())

    assert allowed.returncode == 0, allowed.stderr
    assert templates_of(server, "ok-skogen-ungdom") == []


def templates_of(server: Server, slug: str) -> list[dict[str, Any]]:
    with server.client() as client:
        return items(client, f"/v1/tenants/{slug}/email-templates")


def test_an_item_deleted_behind_the_tools_back_is_created_again_not_replayed(
    server: Server,
) -> None:
    """Each new plan has its own idempotency keys: re-creating an item that someone deleted
    after an apply made it must not be answered from the first create's replay, even when
    every other version is what it was then."""
    path = "/v1/tenants/ok-skogen/connections/eventor-norway"

    def delete_connection() -> None:
        with server.client() as api:
            version = api.get(path).headers["ETag"]
            assert api.delete(path, headers={"If-Match": version}).status_code == 204

    assert cli("apply", EXAMPLES, "--auto-approve", env=server.env()).returncode == 0
    delete_connection()
    assert cli("apply", EXAMPLES, "--auto-approve", env=server.env()).returncode == 0
    delete_connection()  # the live state is now exactly what the second apply started from

    again = cli("apply", EXAMPLES, "--auto-approve", env=server.env())
    replanned = cli("plan", EXAMPLES, "--detailed-exitcode", env=server.env())

    assert again.returncode == 0, again.stderr
    assert replanned.returncode == 0, replanned.stdout
    with server.client() as api:
        assert api.get(path).status_code == 200


def test_apply_of_a_saved_plan_refuses_an_option_that_would_change_it_before_connecting(
    tmp_path: Path,
) -> None:
    saved = tmp_path / "tenants.plan"
    saved.write_text("{}")  # never read: the options are refused first
    db = tmp_path / "never.db"

    applied = cli(
        "apply",
        EXAMPLES,
        "--plan",
        saved,
        "--changed-since",
        "HEAD",
        "--api",
        "embedded",
        env={**base_env(), "T4O_SANDBOX_DB": str(db)},
    )

    assert applied.returncode == 1
    assert "apply --plan uses the saved plan as it was reviewed; --changed-since would" in (
        applied.stderr
    )
    assert not db.exists()
