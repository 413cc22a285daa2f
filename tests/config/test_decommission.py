"""lifecycle: decommissioned: what the file may say, and the ended client it plans."""

from __future__ import annotations

import pytest

from t4o_reconcile.config.desired import tenant_snapshot
from t4o_reconcile.config.loader import LoadResult
from t4o_reconcile.config.repository import TenantEntry

from .conftest import HEAD, Loader

OWNER = "users:\n  - {email: eier@club.no, name: Eier, role: owner}\n"


def _club(result: LoadResult) -> TenantEntry:
    assert result.repository is not None
    return result.repository.tenants["club"]


def errors(result) -> list[tuple[int, int, tuple[str | int, ...], str]]:  # type: ignore[no-untyped-def]
    return [(p.line, p.column, p.path, p.message) for p in result.problems if p.level == "error"]


def test_the_owner_alone_without_rights_is_a_valid_ended_client(load_files: Loader) -> None:
    result = load_files({"club.yaml": HEAD + "lifecycle: decommissioned\n" + OWNER})
    assert errors(result) == []
    snapshot = tenant_snapshot(_club(result))
    assert snapshot.lifecycle == "decommissioned"
    # What the file leaves out is the ended client: no integrations, no own SMTP account,
    # invoicing and distribution off; bank accounts and templates stay unmanaged (kept).
    assert snapshot.sections["connections"] == {}
    assert snapshot.sections["email_account"] == {}
    assert snapshot.sections["invoicing"][""].fields == {
        "enabled": False,
        "distribution_enabled": False,
    }
    assert "bank_accounts" not in snapshot.sections
    assert "email_templates" not in snapshot.sections


def test_the_switches_win_over_the_file_and_the_defaults(load_files: Loader) -> None:
    result = load_files(
        {
            "_defaults.yaml": "invoicing: {enabled: true, distribution_enabled: true}\n",
            "club.yaml": HEAD
            + "lifecycle: decommissioned\ninvoicing: {next_invoice_number: 10}\n"
            + OWNER,
        }
    )
    assert errors(result) == []
    fields = tenant_snapshot(_club(result)).sections["invoicing"][""].fields
    assert fields["enabled"] is False and fields["distribution_enabled"] is False
    assert fields["next_invoice_number"] == 10


def test_a_managed_tenant_is_planned_as_before(load_files: Loader) -> None:
    result = load_files({"club.yaml": HEAD + "lifecycle: managed\n" + OWNER})
    snapshot = tenant_snapshot(_club(result))
    assert snapshot.lifecycle == "managed"
    assert "connections" not in snapshot.sections


@pytest.mark.parametrize(
    ("extra", "where", "what"),
    [
        ("", (4, 12, ("lifecycle",)), "needs users listing its owner"),
        (
            OWNER + "  - {email: ola@club.no, name: Ola}\n",
            (7, 5, ("users", 1)),
            "ola@club.no: a decommissioned client (lifecycle: decommissioned) keeps only its owner",
        ),
        (
            "users:\n  - {email: eier@club.no, name: Eier, role: owner,"
            " programs: {events: user}}\n",
            (6, 52, ("users", 0, "programs")),
            "holds no program right (events here)",
        ),
        (
            OWNER + "connections:\n  - {connector: eventor-norway,"
            " token: {secret: env:T4O_SECRET_CLUB_TOKEN}}\n",
            (7, 1, ("connections",)),
            "keeps no integration",
        ),
    ],
)
def test_what_contradicts_the_ended_client_is_one_error_at_its_line(
    load_files: Loader, extra: str, where: tuple[int, int, tuple[str | int, ...]], what: str
) -> None:
    result = load_files({"club.yaml": HEAD + "lifecycle: decommissioned\n" + extra})
    (problem,) = errors(result)
    assert problem[:3] == where
    assert what in problem[3]


def test_lifecycle_cannot_be_inherited(load_files: Loader) -> None:
    """One line in _defaults.yaml must never end every client at once."""
    result = load_files(
        {"_defaults.yaml": "lifecycle: decommissioned\n", "club.yaml": HEAD + OWNER}
    )
    ((line, column, path, message),) = errors(result)
    assert (line, column, path) == (1, 1, ("lifecycle",))
    assert "cannot be inherited" in message


def test_an_unknown_lifecycle_is_an_error_naming_the_choices(load_files: Loader) -> None:
    result = load_files({"club.yaml": HEAD + "lifecycle: closed\n" + OWNER})
    ((line, _column, path, message),) = errors(result)
    assert (line, path) == (4, ("lifecycle",))
    assert "decommissioned" in message
