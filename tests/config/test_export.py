"""Export writes live configuration as tenant YAML that plans to nothing."""

from __future__ import annotations

import copy
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from t4o_reconcile import normalize
from t4o_reconcile.api.live_snapshot import agreements_snapshot, tenant_snapshot
from t4o_reconcile.config.export import (
    AGREEMENTS_FILE,
    export_tenant,
    schema_dir_for,
    secret_env_name,
    write_export,
)
from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.config.tenant_models import AgreementsFile, Tenant
from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.snapshot import Snapshot, TenantSnapshot
from t4o_reconcile.errors import ExportError
from t4o_reconcile.fingerprint import fingerprint

from .conftest import desired_of

EVENTOR_TOKEN = "eventor-token-value-123"
SMTP_PASSWORD = "smtp-password-value-456"
SALT = "a1b2c3d4"
PERSONAL_NUMBER = "01010012356"
PERSONAL_ENV = "T4O_SECRET_IL_LITEN_PERSONAL_NUMBER"


def secret(value: str) -> dict[str, Any]:
    return {"fingerprint": {"salt": SALT, "hash": fingerprint(value, SALT)}}


def ok_skogen_config() -> dict[str, Any]:
    """A TenantConfig as the API's bulk read returns it (docs/api.md), every section set."""
    return {
        "slug": "ok-skogen",
        "tenant": {
            "slug": "ok-skogen",
            "name": "OK Skogen",
            "organization_number": "974760673",
            "personal_number": None,
            "contact": {"email": "post@ok-skogen.no", "phone": "+4722334455"},
            "address": {
                "street": "Skogveien 1",
                "postal_code": "0150",
                "city": "Oslo",
                "country": "NO",
            },
            "defaults": {"timing_system": "emit", "finish_code": "MÅL"},
            "billing": {"licenses": 12, "invoice_recipient": "partner", "interval": "monthly"},
            "version": "3",
        },
        "invoicing": {
            "enabled": True,
            "next_invoice_number": 1001,
            "invoices_from_external_system": False,
            "next_customer_number": None,
            "pdf_template": "compact",
            "last_invoice_number": 1000,
            "last_customer_number": 0,
            "version": "7",
        },
        "email_account": {
            "account_name": "Faktura",
            "display_name": "OK Skogen faktura",
            "address": "faktura@ok-skogen.no",
            "username": "faktura@ok-skogen.no",
            "password": secret(SMTP_PASSWORD),
            "smtp_host": "smtp.ok-skogen.no",
            "smtp_port": 465,
            "encryption": "ssl",
            "version": "1",
        },
        "connections": [
            {"connector": "eventor-norway", "token": secret(EVENTOR_TOKEN), "version": "2"}
        ],
        "bank_accounts": [
            {
                "account_number": "15030012345",
                "iban": "NO4615030012345",
                "swift": "DNBANOKK",
                "invoice_account": True,
                "default_for_payments": False,
                "version": "4",
            },
            {
                "account_number": "12345678903",
                "iban": None,
                "swift": None,
                "invoice_account": False,
                "default_for_payments": True,
                "version": "2",
            },
        ],
        "users": [
            {
                "email": "leder@ok-skogen.no",
                "name": "Kari Leder",
                "role": "owner",
                "programs": {
                    "invoicing": "admin",
                    "accounting": "admin",
                    "payroll": "none",
                    "events": "user",
                },
                "custom_invoice_email": True,
                "status": "active",
                "version": "1",
            },
            {
                "email": "ny@ok-skogen.no",
                "name": "Ola Ny",
                "role": "member",
                "programs": {
                    "invoicing": "none",
                    "accounting": "none",
                    "payroll": "none",
                    "events": "none",
                },
                "status": "pending",
                "version": "1",
            },
        ],
        "email_templates": [
            {
                "kind": "invoice",
                "language": "nb",
                "name": "Standard faktura",
                "subject": "Faktura {Number} fra {Supplier.Name}",
                "body": "Hei {Customer.Name},\n\nVedlagt faktura {Number}.\nForfall {DueDate}.",
                "version": "1",
            }
        ],
        "agreement": {"agreement": "Norges Orienteringsforbund", "version": "5"},
    }


def bare_config() -> dict[str, Any]:
    """A tenant with only what a new tenant gets: no SMTP account, empty collections."""
    config = ok_skogen_config()
    config["slug"] = config["tenant"]["slug"] = "il-liten"
    config["tenant"].update(
        name="IL Liten",
        organization_number=None,
        personal_number={**secret(PERSONAL_NUMBER), "last_digits": "56"},
        contact=None,
    )
    config.update(email_account=None, connections=[], bank_accounts=[], email_templates=[])
    config["users"] = config["users"][:1]
    config["agreement"] = {"agreement": None, "version": "1"}
    return config


def no_access_config() -> dict[str, Any]:
    """A client that gets no program: no licences, a confirmation e-mail, no rights."""
    config = bare_config()
    config["tenant"]["billing"] = {
        "licenses": 0,
        "invoice_recipient": "partner",
        "interval": "yearly",
        "program_access": False,
        "confirmation_email": "leder@il-liten.no",
    }
    owner = config["users"][0]
    owner["programs"] = dict.fromkeys(owner["programs"], "none")
    owner["custom_invoice_email"] = False
    return config


def no_holder_config() -> dict[str, Any]:
    """Templates live while nobody holds the custom invoice e-mail right any more."""
    config = ok_skogen_config()
    for user in config["users"]:
        user["custom_invoice_email"] = False
    return config


AGREEMENTS = agreements_snapshot(
    [
        {"name": "Norges Orienteringsforbund", "customer_number": "10042", "version": "1"},
        {"name": "Bedriftsidrett", "customer_number": "0777", "version": "1"},
    ]
)


def live_snapshot(*configs: dict[str, Any]) -> Snapshot:
    tenants = {c["slug"]: tenant_snapshot(c) for c in configs}
    return Snapshot(tenants=tenants, agreements=copy.deepcopy(AGREEMENTS))


def load(text: str) -> Any:
    return YAML(typ="safe").load(text)


def test_exported_file_validates_with_the_tenant_model() -> None:
    exported = export_tenant(tenant_snapshot(ok_skogen_config()), AGREEMENTS)

    tenant = Tenant.model_validate(load(exported.render()))

    assert tenant.slug == "ok-skogen"
    assert tenant.agreement == "Norges Orienteringsforbund"
    assert exported.agreement is AGREEMENTS["Norges Orienteringsforbund"]


@pytest.mark.parametrize(
    "config",
    [ok_skogen_config(), bare_config(), no_access_config()],
    ids=["full", "bare", "no-program-access"],
)
def test_plan_after_export_is_empty(tmp_path: Path, config: dict[str, Any]) -> None:
    live = live_snapshot(config)
    out = tmp_path / "tenants"
    write_export(live.tenants.values(), live.agreements, out, force=False)
    environ = {
        secret_env_name("ok-skogen", "eventor-norway", "token"): EVENTOR_TOKEN,
        secret_env_name("ok-skogen", "smtp", "password"): SMTP_PASSWORD,
        PERSONAL_ENV: PERSONAL_NUMBER,
    }

    loaded = load_repository(out, environ=environ)

    assert loaded.problems == []
    assert loaded.repository is not None
    desired = desired_of(loaded.repository)
    plan = make_plan(desired, live, target="test")
    assert not plan.has_errors
    assert plan.counts() == {"create": 0, "update": 0, "delete": 0, "move": 0}


def test_program_access_and_the_custom_right_are_written_only_when_they_say_something() -> None:
    full = load(export_tenant(tenant_snapshot(ok_skogen_config()), AGREEMENTS).render())
    assert set(full["billing"]) == {"licenses", "invoice_recipient", "interval"}
    assert [u.get("custom_invoice_email") for u in full["users"]] == [True, None]

    bare = load(export_tenant(tenant_snapshot(no_access_config()), AGREEMENTS).render())
    assert bare["billing"] == {
        "licenses": 0,
        "invoice_recipient": "partner",
        "interval": "yearly",
        "program_access": False,
        "confirmation_email": "leder@il-liten.no",
    }
    assert "programs" not in bare["users"][0]


def test_templates_without_a_holder_export_with_a_warning_and_an_empty_plan(
    tmp_path: Path,
) -> None:
    live = live_snapshot(no_holder_config())
    write_export(live.tenants.values(), live.agreements, tmp_path, force=False)
    environ = {
        secret_env_name("ok-skogen", "eventor-norway", "token"): EVENTOR_TOKEN,
        secret_env_name("ok-skogen", "smtp", "password"): SMTP_PASSWORD,
    }
    loaded = load_repository(tmp_path, environ=environ)

    (warning,) = loaded.problems
    assert warning.level == "warning" and warning.path == ("email_templates",)
    assert loaded.repository is not None
    plan = make_plan(desired_of(loaded.repository), live, target="test")
    assert not plan.has_errors and not plan.has_changes


def test_exported_values_equal_the_live_ones_section_by_section(tmp_path: Path) -> None:
    live = live_snapshot(ok_skogen_config())
    write_export(live.tenants.values(), live.agreements, tmp_path, force=False)
    loaded = load_repository(tmp_path, environ={})
    assert loaded.repository is not None
    desired = desired_of(loaded.repository).tenants["ok-skogen"]
    have = live.tenants["ok-skogen"]

    assert set(desired.sections) == set(have.sections)
    for section, items in have.sections.items():
        assert set(desired.sections[section]) == set(items), section
        for key, item in items.items():
            wanted = desired.sections[section][key].fields
            for name, value in wanted.items():
                if section in ("connections", "email_account") and name in ("token", "password"):
                    continue  # the secrets the user supplies; compared by fingerprint
                assert value == item.fields[name], f"{section}[{key!r}].{name}"


def test_secrets_become_env_references_with_a_comment_and_no_value() -> None:
    exported = export_tenant(tenant_snapshot(ok_skogen_config()), AGREEMENTS)
    text = exported.render()
    document = load(text)

    assert exported.secrets == [
        "T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD",
        "T4O_SECRET_OK_SKOGEN_EVENTOR_NORWAY_TOKEN",
    ]
    assert document["connections"] == [
        {
            "connector": "eventor-norway",
            "token": {"secret": "env:T4O_SECRET_OK_SKOGEN_EVENTOR_NORWAY_TOKEN"},
        }
    ]
    assert document["email_account"]["password"] == {
        "secret": "env:T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD"
    }
    assert "set T4O_SECRET_OK_SKOGEN_EVENTOR_NORWAY_TOKEN in the environment" in text
    for leaked in (EVENTOR_TOKEN, SMTP_PASSWORD, SALT, fingerprint(EVENTOR_TOKEN, SALT)):
        assert leaked not in text


def test_read_only_fields_are_left_out() -> None:
    text = export_tenant(tenant_snapshot(ok_skogen_config()), AGREEMENTS).render()
    document = load(text)

    for read_only in ("last_invoice_number", "last_customer_number", "status", "version"):
        assert read_only not in text
    assert document["invoicing"] == {
        "enabled": True,
        "next_invoice_number": 1001,
        "invoices_from_external_system": False,
        "pdf_template": "compact",
    }


def test_number_like_identifiers_and_country_are_quoted() -> None:
    text = export_tenant(tenant_snapshot(ok_skogen_config()), AGREEMENTS).render()

    assert 'organization_number: "974760673"' in text
    assert 'postal_code: "0150"' in text
    assert 'country: "NO"' in text
    assert 'account_number: "15030012345"' in text
    # A YAML 1.1 reader (PyYAML's default) reads the same strings back.
    yaml11 = YAML(typ="safe")
    yaml11.version = (1, 1)
    document = yaml11.load(text)
    assert document["address"]["country"] == "NO"
    assert document["address"]["postal_code"] == "0150"


def test_multi_line_template_bodies_are_literal_blocks() -> None:
    text = export_tenant(tenant_snapshot(ok_skogen_config()), AGREEMENTS).render()

    assert "body: |-\n" in text
    assert load(text)["email_templates"][0]["body"] == (
        "Hei {Customer.Name},\n\nVedlagt faktura {Number}.\nForfall {DueDate}."
    )


def test_an_empty_live_section_is_written_as_managed_and_empty() -> None:
    document = load(export_tenant(tenant_snapshot(bare_config()), AGREEMENTS).render())

    assert document["email_account"] is None
    assert document["agreement"] is None
    assert document["connections"] == []
    assert document["bank_accounts"] == []
    # Personal data: written as a reference, never as the number (live has only a hash).
    assert document["personal_number"] == {"secret": f"env:{PERSONAL_ENV}"}
    assert "organization_number" not in document and "contact" not in document


def test_sections_the_live_side_did_not_read_are_left_out() -> None:
    live = TenantSnapshot(
        "ok-skogen", {"identity": tenant_snapshot(ok_skogen_config()).sections["identity"]}
    )

    document = load(export_tenant(live, {}).render())

    assert set(document) == {"slug", "name", "organization_number", "contact", "address"}


def test_a_tenant_without_identity_is_a_clear_error() -> None:
    with pytest.raises(ExportError, match="ok-skogen: the live tenant has no identity"):
        export_tenant(TenantSnapshot("ok-skogen", {}), {})


def test_the_schema_line_points_at_the_repositorys_schemas(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "schemas").mkdir()
    out = tmp_path / "clubs" / "tenants"
    live = live_snapshot(ok_skogen_config())

    [path, _] = write_export(live.tenants.values(), live.agreements, out, force=False)

    first_line = path.read_text().splitlines()[0]
    assert first_line == ("# yaml-language-server: $schema=../../schemas/tenant.schema.json")
    assert schema_dir_for(tmp_path / "tenants") == "../schemas"


def test_without_a_schemas_folder_the_default_path_is_kept(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()

    assert schema_dir_for(tmp_path / "tenants") == "../../schemas"


def test_existing_files_are_not_overwritten_without_force(tmp_path: Path) -> None:
    live = live_snapshot(ok_skogen_config(), bare_config())
    existing = tmp_path / "ok-skogen.yaml"
    existing.write_text("# mine\n")

    with pytest.raises(ExportError) as refused:
        write_export(live.tenants.values(), live.agreements, tmp_path, force=False)

    assert f"{existing} already exists" in str(refused.value)
    assert "--force" in str(refused.value)
    assert existing.read_text() == "# mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok-skogen.yaml"]

    written = write_export(live.tenants.values(), live.agreements, tmp_path, force=True)

    assert {p.name for p in written} == {"ok-skogen.yaml", "il-liten.yaml", AGREEMENTS_FILE}
    assert load(existing.read_text())["slug"] == "ok-skogen"
    assert stat.S_IMODE(existing.stat().st_mode) & 0o044  # not left private by mkstemp
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp files


def test_agreements_are_merged_into_an_existing_file_keeping_its_comments(
    tmp_path: Path,
) -> None:
    agreements_file = tmp_path / AGREEMENTS_FILE
    agreements_file.write_text(
        "# our agreements\nagreements:\n  - name: Lokal avtale  # keep me\n"
        '    customer_number: "555"\n'
    )
    live = live_snapshot(ok_skogen_config())

    write_export(live.tenants.values(), live.agreements, tmp_path, force=False)

    text = agreements_file.read_text()
    assert "# our agreements" in text and "# keep me" in text
    names = [a.name for a in AgreementsFile.model_validate(load(text)).agreements]
    assert names == ["Lokal avtale", "Bedriftsidrett", "Norges Orienteringsforbund"]
    assert 'customer_number: "0777"' in text


def test_a_differing_agreement_needs_force(tmp_path: Path) -> None:
    agreements_file = tmp_path / AGREEMENTS_FILE
    agreements_file.write_text('agreements:\n  - name: Bedriftsidrett\n    customer_number: "1"\n')
    live = live_snapshot(ok_skogen_config())

    with pytest.raises(ExportError, match="'Bedriftsidrett' has customer_number '1'"):
        write_export(live.tenants.values(), live.agreements, tmp_path, force=False)
    assert not (tmp_path / "ok-skogen.yaml").exists()

    write_export(live.tenants.values(), live.agreements, tmp_path, force=True)
    entries = load(agreements_file.read_text())["agreements"]
    assert {e["name"]: e["customer_number"] for e in entries}["Bedriftsidrett"] == "0777"


def test_an_unreadable_agreements_file_is_named(tmp_path: Path) -> None:
    (tmp_path / AGREEMENTS_FILE).write_text("agreements: [unclosed\n")
    live = live_snapshot(ok_skogen_config())

    with pytest.raises(ExportError, match=r"_agreements\.yaml: cannot be read"):
        write_export(live.tenants.values(), live.agreements, tmp_path, force=False)


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("ok-skogen", "eventor-norway", "token"), "T4O_SECRET_OK_SKOGEN_EVENTOR_NORWAY_TOKEN"),
        (("ok-skogen", "smtp", "password"), "T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD"),
        (("1-club", "smtp", "password"), "T4O_SECRET_1_CLUB_SMTP_PASSWORD"),
    ],
)
def test_secret_names_are_valid_environment_variable_names(
    parts: tuple[str, ...], expected: str
) -> None:
    assert secret_env_name(*parts) == expected


_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\ufeff"),
    min_size=1,
    max_size=30,
).filter(lambda value: normalize.text(value) == value and value != "")


@settings(max_examples=60, deadline=None)
@given(name=_TEXT, city=_TEXT, finish_code=_TEXT.filter(lambda v: len(v) <= 20))
def test_any_text_value_reads_back_unchanged(name: str, city: str, finish_code: str) -> None:
    config = ok_skogen_config()
    config["tenant"]["name"] = name
    config["tenant"]["address"]["city"] = city
    config["tenant"]["defaults"]["finish_code"] = finish_code

    document = load(export_tenant(tenant_snapshot(config), AGREEMENTS).render())

    assert (document["name"], document["address"]["city"]) == (name, city)
    assert document["defaults"]["finish_code"] == finish_code


@pytest.mark.parametrize("slug", ["../../escaped", "/etc/cron.d/x", "A B", "ok\nslug: other"])
def test_export_refuses_a_hostile_slug_and_writes_nothing(slug: str, tmp_path: Path) -> None:
    from t4o_reconcile.engine.snapshot import Item, TenantSnapshot

    hostile = TenantSnapshot(slug=slug, sections={"identity": {"": Item({"name": "X"})}})

    with pytest.raises(ExportError, match="nothing was exported: the API sent values"):
        write_export([hostile], {}, tmp_path / "out", force=False)
    assert list(tmp_path.rglob("*")) == []
