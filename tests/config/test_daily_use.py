"""Issue 22 at the YAML layer (model, validate's checks, export): counters as floors, a
key per club, who administers users, the two invoicing switches, a BIC in its IBAN's
country, and an organisation registered twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError
from ruamel.yaml import YAML

from t4o_reconcile.api.live_snapshot import tenant_snapshot
from t4o_reconcile.cli import main
from t4o_reconcile.config.export import export_tenant
from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.config.secret_refs import SecretPolicy
from t4o_reconcile.config.tenant_models import BankAccount, Invoicing, Tenant

from .conftest import HEAD, Loader
from .test_export import ok_skogen_config

OWNER = "users:\n  - {email: boss@club.no, name: Boss, role: owner}\n"


# -- 1. counters: floors, and the next customer number only where it is used ---------


def test_the_counters_are_described_as_floors_in_the_schema() -> None:
    fields = Invoicing.model_fields
    assert "floor" in (fields["next_invoice_number"].description or "")
    assert "floor" in (fields["next_customer_number"].description or "")


def test_a_next_customer_number_nothing_uses_is_a_warning(load_files: Loader) -> None:
    result = load_files(
        {"club.yaml": HEAD + "invoicing: {next_invoice_number: 1, next_customer_number: 501}\n"}
    )

    (problem,) = result.problems
    assert problem.level == "warning"
    assert problem.path == ("invoicing", "next_customer_number")
    assert "invoices_from_external_system" in problem.message
    assert "own accounting system" in problem.message


def test_a_next_customer_number_for_an_external_system_is_fine(load_files: Loader) -> None:
    result = load_files(
        {
            "club.yaml": HEAD + "invoicing: {next_invoice_number: 1, next_customer_number: 501,"
            " invoices_from_external_system: true}\n"
        }
    )
    assert result.problems == []


def test_export_writes_the_live_counters_as_floors() -> None:
    config = ok_skogen_config()
    config["invoicing"].update(next_invoice_number=1003, last_invoice_number=1002)
    text = export_tenant(tenant_snapshot(config), {}).render()

    line = next(x for x in text.splitlines() if "next_invoice_number" in x)
    assert "1003" in line and "a floor" in line
    assert YAML(typ="safe").load(text)["invoicing"]["next_invoice_number"] == 1003


# -- 2. a key per club -----------------------------------------------------------------


def club(slug: str, variable: str, number: str, owner: str | None = None) -> str:
    users = f"users:\n  - {{email: {owner}, name: Boss, role: owner}}\n" if owner else ""
    return (
        f'slug: {slug}\nname: Club\norganization_number: "{number}"\n'
        f"connections:\n  - {{connector: eventor-norway, token: {{secret: 'env:{variable}'}}}}\n"
        + users
    )


def key_warnings(root: Path, environ: dict[str, str] | None, *, read: bool = True) -> list[str]:
    # The operator shares these names (T4O_SHARED_SECRETS): that is how two clubs could
    # reach one key at all, now that a secret is bound to its tenant.
    shared = frozenset({"T4O_SECRET_KEY", "T4O_SECRET_KEY_A", "T4O_SECRET_KEY_B"})
    policy = SecretPolicy(read_values=read, shared=shared)
    result = load_repository(root, environ=environ or {}, policy=policy)
    return [p.message for p in result.problems if p.path[:1] == ("connections",)]


def test_two_tenants_of_one_club_share_its_key(tmp_path: Path) -> None:
    # Same organisation number and owner: ok-skogen and ok-skogen-ungdom.
    (tmp_path / "ok-skogen.yaml").write_text(
        club("ok-skogen", "T4O_SECRET_KEY_A", "914820332", "k@o.no")
    )
    (tmp_path / "ok-skogen-ungdom.yaml").write_text(
        club("ok-skogen-ungdom", "T4O_SECRET_KEY_B", "914820332", "k@o.no")
    )
    assert key_warnings(tmp_path, {"T4O_SECRET_KEY_A": "same", "T4O_SECRET_KEY_B": "same"}) == []


def test_same_number_with_another_owner_is_another_club(tmp_path: Path) -> None:
    (tmp_path / "a-club.yaml").write_text(club("a-club", "T4O_SECRET_KEY_A", "914820332", "a@o.no"))
    (tmp_path / "b-club.yaml").write_text(club("b-club", "T4O_SECRET_KEY_B", "914820332", "b@o.no"))
    (warning,) = key_warnings(tmp_path, {"T4O_SECRET_KEY_A": "same", "T4O_SECRET_KEY_B": "same"})
    assert "is the same API key as the token of tenant 'a-club'" in warning


def test_two_clubs_on_one_reference_are_warned_without_the_values(tmp_path: Path) -> None:
    (tmp_path / "a-club.yaml").write_text(club("a-club", "T4O_SECRET_KEY", "914820332"))
    (tmp_path / "b-club.yaml").write_text(club("b-club", "T4O_SECRET_KEY", "974760673"))

    # No environment at all: the values are not read, the references still compare.
    (warning,) = key_warnings(tmp_path, None, read=False)

    assert "comes from the same reference as the token of tenant 'a-club'" in warning
    assert "compared only with --resolve-secrets" in warning


def test_different_references_need_the_values_and_say_so(tmp_path: Path) -> None:
    (tmp_path / "a-club.yaml").write_text(club("a-club", "T4O_SECRET_KEY_A", "914820332"))
    (tmp_path / "b-club.yaml").write_text(club("b-club", "T4O_SECRET_KEY_B", "974760673"))
    environ = {"T4O_SECRET_KEY_A": "same", "T4O_SECRET_KEY_B": "same"}
    assert key_warnings(tmp_path, environ, read=False) == []
    (warning,) = key_warnings(tmp_path, environ)
    assert "same API key" in warning and "--resolve-secrets" not in warning


def test_validate_says_when_keys_were_not_compared_by_value(tmp_path: Path) -> None:
    (tmp_path / "a-club.yaml").write_text(club("a-club", "T4O_SECRET_KEY", "914820332"))
    (tmp_path / "b-club.yaml").write_text(club("b-club", "T4O_SECRET_KEY", "974760673"))
    result = CliRunner().invoke(
        main, ["validate", str(tmp_path)], env={"T4O_SHARED_SECRETS": "T4O_SECRET_KEY"}
    )
    assert result.exit_code == 0, result.output
    assert "warning: connections[0].token" in result.output
    assert "--resolve-secrets" in result.output


# -- 4. who administers users ----------------------------------------------------------


def test_user_administration_is_owner_or_admins(load_files: Loader) -> None:
    assert load_files({"club.yaml": HEAD + "user_administration: owner\n"}).problems == []
    (problem,) = load_files({"club.yaml": HEAD + "user_administration: anyone\n"}).problems
    assert problem.path == ("user_administration",)
    assert "'owner'" in problem.message and "'admins'" in problem.message


def test_export_writes_owner_only_user_administration() -> None:
    config = ok_skogen_config()
    assert "user_administration" not in export_tenant(tenant_snapshot(config), {}).render()
    config["tenant"]["user_administration"] = "owner"
    text = export_tenant(tenant_snapshot(config), {}).render()
    assert YAML(typ="safe").load(text)["user_administration"] == "owner"


# -- 5. two switches -------------------------------------------------------------------


def test_distribution_and_invoicing_are_two_switches_on_by_default() -> None:
    invoicing = Invoicing(next_invoice_number=1)
    assert invoicing.enabled is True and invoicing.distribution_enabled is True
    off = Invoicing(next_invoice_number=1, distribution_enabled=False)
    assert off.enabled is True and off.distribution_enabled is False


def test_export_writes_distribution_only_when_it_is_off() -> None:
    config = ok_skogen_config()
    assert "distribution_enabled" not in export_tenant(tenant_snapshot(config), {}).render()
    config["invoicing"]["distribution_enabled"] = False
    text = export_tenant(tenant_snapshot(config), {}).render()
    assert YAML(typ="safe").load(text)["invoicing"]["distribution_enabled"] is False


# -- 6. a BIC in its IBAN's country; an organisation registered twice ---------------


@pytest.mark.parametrize(
    ("fields", "fine"),
    [
        ({"iban": "SE4550000000058398257466", "swift": "ESSESESS"}, True),
        ({"iban": "SE4550000000058398257466", "swift": "DNBANOKK"}, False),
        ({"account_number": "15034210001", "swift": "DNBANOKKXXX"}, True),
        ({"account_number": "15034210001", "swift": "ESSESESS"}, False),
    ],
)
def test_a_bic_belongs_to_the_accounts_country(fields: dict[str, str], fine: bool) -> None:
    if fine:
        BankAccount.model_validate(fields)
        return
    with pytest.raises(ValidationError) as raised:
        BankAccount.model_validate(fields)
    assert "swift" in str(raised.value)


def test_a_bic_in_another_country_is_an_error_at_its_line(load_files: Loader) -> None:
    text = (
        HEAD + "bank_accounts:\n  - iban: SE4550000000058398257466\n    swift: DNBANOKK\n"
        "    invoice_account: true\n    default_for_payments: true\n"
    )
    (problem,) = load_files({"club.yaml": text}).problems
    assert problem.level == "error" and problem.path == ("bank_accounts", 0, "swift")
    assert problem.line == 6
    assert "in NO" in problem.message and "in SE" in problem.message


def test_an_organisation_already_a_client_is_not_registered_again_by_another(
    load_files: Loader,
) -> None:
    other = 'slug: other\nname: Other\norganization_number: "914820332"\n'
    result = load_files(
        {
            "club.yaml": HEAD + OWNER,
            "other.yaml": other + "users:\n  - {email: x@y.no, name: X, role: owner}\n",
        }
    )
    (problem,) = result.errors
    assert "its administrator gives access" in problem.message


def test_the_tenant_model_keeps_user_administration_unmanaged_when_left_out() -> None:
    tenant = Tenant.model_validate(
        {"slug": "club", "name": "Club", "organization_number": "914820332"}
    )
    assert tenant.user_administration is None and not tenant.managed("user_administration")
