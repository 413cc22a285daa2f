"""How a directory of tenant files loads: merging, positions, secrets, all problems at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from t4o_reconcile.config.loader import load_repository, merge
from t4o_reconcile.config.yamlfile import YAMLSyntax, parse
from t4o_reconcile.engine.snapshot import Secret, UnresolvedSecret

from .conftest import HEAD, Loader

TOKEN = (
    "connections:\n  - connector: eventor-norway\n"
    "    token: {secret: 'env:T4O_SECRET_CLUB_TOKEN'}\n"
)


def test_yaml_1_2_keeps_norway_a_string() -> None:
    assert parse("country: NO\nflag: yes\n") == {"country": "NO", "flag": "yes"}


def test_the_fast_loader_rejects_duplicate_keys() -> None:
    with pytest.raises(YAMLSyntax, match="duplicate key 'a'"):
        parse("a: 1\nb: 2\na: 3\n")


def test_duplicate_key_message_does_not_quote_the_value() -> None:
    with pytest.raises(YAMLSyntax) as caught:
        parse("token: first-value\ntoken: second-value\n")
    assert "first-value" not in str(caught.value)
    assert "second-value" not in str(caught.value)


def test_merge_is_deep_for_mappings_and_replaces_lists() -> None:
    defaults = {"billing": {"interval": "yearly", "licenses": 1}, "users": [{"email": "a"}]}
    tenant = {"billing": {"licenses": 5}, "users": [{"email": "b"}]}

    assert merge(defaults, tenant) == {
        "billing": {"interval": "yearly", "licenses": 5},
        "users": [{"email": "b"}],
    }


def test_defaults_apply_under_every_tenant_and_the_tenant_wins(load_files: Loader) -> None:
    result = load_files(
        {
            "_defaults.yaml": "billing:\n  licenses: 1\n  interval: monthly\n",
            "club.yaml": HEAD + "billing:\n  licenses: 9\n",
        }
    )

    assert result.repository is not None
    billing = result.repository.tenants["club"].tenant.billing
    assert billing is not None
    assert (billing.licenses, billing.interval) == (9, "monthly")


def test_every_problem_in_every_file_is_reported_in_one_run(load_files: Loader) -> None:
    result = load_files(
        {
            "a-club.yaml": HEAD.replace("club", "a-club") + "billing:\n  licenses: x\n",
            "b-club.yaml": HEAD.replace("club", "b-club") + "biling: 1\nxyzzy: 2\n",
            "c-club.yaml": "slug: [\n",
            "d-club.yaml": HEAD.replace("club", "d-club"),
        }
    )

    files = [Path(p.file).name for p in result.problems]
    assert files == ["a-club.yaml", "b-club.yaml", "b-club.yaml", "c-club.yaml"]
    assert result.files_with_problems == 3
    assert result.tenant_count == 4
    assert result.repository is None


def test_a_problem_in_defaults_is_reported_once_for_many_tenants(load_files: Loader) -> None:
    files: dict[str, str | bytes] = {
        f"club-{n}.yaml": HEAD.replace("club", f"club-{n}") for n in range(3)
    }
    files["_defaults.yaml"] = "billing:\n  licenses: -3\n"

    result = load_files(files)

    assert [str(p).split(": ", 1)[0].rsplit("/", 1)[1] for p in result.problems] == [
        "_defaults.yaml:2:13"
    ]


def test_secrets_resolve_from_env_and_from_a_file_in_the_secrets_dir(
    tmp_path: Path,
) -> None:
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    (secrets_dir / "club").mkdir()
    (secrets_dir / "club" / "smtp.secret").write_text("file-secret\n")
    (tmp_path / "club.yaml").write_text(
        HEAD
        + TOKEN
        + "email_account:\n  account_name: A\n  display_name: A\n  address: a@club.no\n"
        "  username: a\n  password: {secret: 'file:club/smtp.secret'}\n  smtp_host: smtp.club.no\n"
    )

    result = load_repository(
        tmp_path,
        environ={"T4O_SECRET_CLUB_TOKEN": "env-secret", "T4O_SECRETS_DIR": str(secrets_dir)},
    )

    assert result.problems == []
    assert result.repository is not None
    secrets = result.repository.tenants["club"].secrets
    assert secrets[("connections", 0, "token")] == Secret("env-secret", "env:T4O_SECRET_CLUB_TOKEN")
    assert secrets[("email_account", "password")].value == "file-secret"  # type: ignore[union-attr]


def test_a_missing_variable_still_yields_a_repository_for_plan(tmp_path: Path) -> None:
    (tmp_path / "club.yaml").write_text(HEAD + TOKEN)

    result = load_repository(tmp_path, environ={})

    assert [p.unresolved_secret for p in result.problems] == [True]
    assert "T4O_SECRET_CLUB_TOKEN" in str(result.problems[0]) and "'club'" in str(
        result.problems[0]
    )
    assert result.repository is not None
    secret = result.repository.tenants["club"].secrets[("connections", 0, "token")]
    assert isinstance(secret, UnresolvedSecret)
    assert "T4O_SECRET_CLUB_TOKEN" in secret.problem


def test_secret_values_never_reach_a_problem_or_a_repr(tmp_path: Path) -> None:
    planted = "PLANTED-secret-9f8e7d"
    (tmp_path / "club.yaml").write_text(
        HEAD + TOKEN + "users:\n  - {email: x@club.no, name: X}\n"  # no owner: a problem
    )

    result = load_repository(tmp_path, environ={"T4O_SECRET_CLUB_TOKEN": planted})

    assert result.problems
    assert all(planted not in str(p) for p in result.problems)
    loaded = load_repository(tmp_path, environ={"T4O_SECRET_CLUB_TOKEN": planted})
    assert planted not in repr(loaded)


def test_a_path_that_is_not_a_directory_is_a_problem(tmp_path: Path) -> None:
    result = load_repository(tmp_path / "missing")

    assert "does not exist; expected a directory of tenant files" in str(result.problems[0])


def test_locate_maps_a_document_path_to_file_line_column(load_files: Loader) -> None:
    result = load_files(
        {
            "_defaults.yaml": "billing:\n  interval: monthly\n",
            "club.yaml": HEAD + "billing:\n  licenses: 2\n",
        }
    )

    assert result.repository is not None
    entry = result.repository.tenants["club"]
    assert entry.locate(("billing", "licenses")).endswith("club.yaml:5:13")
    assert entry.locate(("billing", "interval")).endswith("_defaults.yaml:2:13")


def test_same_organisation_number_with_the_same_owner_is_allowed(load_files: Loader) -> None:
    owner = "users:\n  - {email: boss@club.no, name: Boss, role: owner}\n"
    result = load_files(
        {"club.yaml": HEAD + owner, "club-b.yaml": HEAD.replace("club\n", "club-b\n") + owner}
    )

    assert result.problems == []


def test_parsing_in_worker_processes_gives_the_same_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(4):
        (tmp_path / f"club-{n}.yaml").write_text(HEAD.replace("club", f"club-{n}"))
    (tmp_path / "club-4.yaml").write_text("slug: [\n")
    serial = load_repository(tmp_path)

    monkeypatch.setattr("t4o_reconcile.config.loader.PARALLEL_FROM", 2)
    monkeypatch.setattr("t4o_reconcile.config.loader.POOL_AFTER", 1)
    parallel = load_repository(tmp_path, cache=None)

    assert parallel.problems == serial.problems
    assert [p.message for p in serial.problems if "invalid YAML" in p.message]
    assert parallel.repository is None and serial.tenant_count == parallel.tenant_count == 5


def test_a_warning_leaves_the_repository_usable_and_is_kept_on_it(tmp_path: Path) -> None:
    (tmp_path / "club.yaml").write_text(
        HEAD + "email_account:\n  account_name: A\n  display_name: A\n  address: a@club.no\n"
        "  username: a\n  password: {secret: 'env:T4O_SECRET_CLUB_TOKEN'}\n"
        "  smtp_host: smtp.club.no\n"
        "  smtp_port: 587\n  encryption: ssl\n"
    )

    result = load_repository(tmp_path, environ={"T4O_SECRET_CLUB_TOKEN": "x"})

    assert [p.level for p in result.problems] == ["warning"]
    assert result.errors == [] and result.warnings == result.problems
    assert result.files_with_problems == 0
    assert result.repository is not None
    assert result.repository.warnings == result.problems
    assert ": warning: email_account.smtp_port: port 587 is for starttls" in str(result.problems[0])


def test_a_valid_file_is_kept_as_its_model_and_text_and_parsed_again_to_locate(
    load_files: Loader,
) -> None:
    result = load_files({"_defaults.yaml": "billing:\n  licenses: 5\n", "club.yaml": HEAD})

    assert result.repository is not None
    entry = result.repository.tenants["club"]
    assert entry.origin.written is None  # the document as written is not held
    assert entry.locate(("name",)) == f"{entry.source}:2:7"
    assert entry.locate(("billing", "licenses")).endswith("_defaults.yaml:2:13")


def test_validate_keeps_no_tenant_model_and_finds_the_same_problems(tmp_path: Path) -> None:
    for n in range(3):
        # The same organisation number on each: a problem across files.
        (tmp_path / f"club-{n}.yaml").write_text(HEAD.replace("club", f"club-{n}"))
    (tmp_path / "club-3.yaml").write_text(HEAD.replace("club", "club-0"))  # slug used twice

    kept = load_repository(tmp_path)
    dropped = load_repository(tmp_path, keep_tenants=False)

    assert dropped.problems == kept.problems and dropped.tenant_count == kept.tenant_count == 4
    assert any("is already used by" in p.message for p in kept.problems)
    assert any("organization number 914820332" in p.message for p in kept.problems)
    assert kept.repository is None and dropped.repository is None  # both invalid


def test_without_its_tenants_a_valid_repository_is_still_valid(tmp_path: Path) -> None:
    (tmp_path / "club.yaml").write_text(HEAD)

    result = load_repository(tmp_path, keep_tenants=False)

    assert result.problems == [] and result.tenant_count == 1
    assert result.repository is not None and result.repository.tenants == {}


def test_a_loaded_file_is_let_go_and_read_again_only_to_name_a_place_in_it(
    tmp_path: Path,
) -> None:
    """A plan does not hold every file's text to the end of the load (50 MB at 10,000
    tenants): a rule across files that names an earlier file reads it again."""
    for n in range(2):
        (tmp_path / f"club-{n}.yaml").write_text(HEAD.replace("club", f"club-{n}"))
    (tmp_path / "club-2.yaml").write_text(
        HEAD.replace("club", "club-2").replace("914820332", "910000012")
    )
    handed: list[Any] = []

    result = load_repository(tmp_path, keep_tenants=False, on_tenant=handed.append)

    assert [entry.slug for entry in handed] == ["club-0", "club-1", "club-2"]
    # Let go once loaded; club-0, named by club-1's problem, was read again for it.
    texts = [entry.origin.tenant_file._text for entry in handed]
    assert texts[0] is not None and texts[1:] == [None, None]
    shared = [p for p in result.problems if "also used by tenant 'club-0'" in p.message]
    assert len(shared) == 1, result.problems
    assert "club-0.yaml:3:22" in shared[0].message  # the value's place in the first file
    assert load_repository(tmp_path).problems == result.problems  # as when each is kept
