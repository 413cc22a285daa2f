"""The operator's secrets file (``T4O_SECRETS_FILE``): a flat mapping of variable names
to strings, private to its owner. Anything else is one error naming the file (and the line,
when there is one), never the values."""

from __future__ import annotations

from pathlib import Path

import pytest

from t4o_reconcile.config.secret_refs import load_secrets_file
from t4o_reconcile.errors import SecretPolicyError

VALUE = "hunter2-secret-value"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "secrets.yaml"
    path.write_text(text)
    path.chmod(0o600)
    return path


def test_a_flat_mapping_of_names_to_strings_is_read(tmp_path: Path) -> None:
    path = _file(
        tmp_path,
        f'# the merge job\'s\nT4O_SECRET_A: "{VALUE}"\nT4O_SECRET_B: plain yes\n'
        'T4O_SECRET_C: "NO"\n',
    )
    assert load_secrets_file(path) == {
        "T4O_SECRET_A": VALUE,
        "T4O_SECRET_B": "plain yes",
        "T4O_SECRET_C": "NO",
    }


def test_an_empty_file_holds_no_secrets(tmp_path: Path) -> None:
    assert load_secrets_file(_file(tmp_path, "# nothing yet\n")) == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            f'T4O_SECRET_A: "{VALUE}"\nT4O_SECRET_B: "unclosed\n',
            r"secrets\.yaml:\d+: expected a YAML",
        ),
        (
            f'T4O_SECRET_A: "{VALUE}"\nT4O_SECRET_A: "{VALUE}"\n',
            r"secrets\.yaml:2: expected a YAML",
        ),
        (
            f'T4O_SECRET_A: &key "{VALUE}"\nT4O_SECRET_B: *key\n',
            r"secrets\.yaml:1: expected a YAML",
        ),
        (f'T4O_SECRET_A: !!binary "{VALUE}"\n', r"secrets\.yaml:1: expected a YAML"),
        (f'- "{VALUE}"\n', r"secrets\.yaml: expected a YAML mapping"),
        ("T4O_SECRET_A: 1234\n", r"T4O_SECRET_A: expected a string value \(quote it\)"),
        (f'T4O_SECRET_A:\n  nested: "{VALUE}"\n', r"T4O_SECRET_A: expected a string value"),
        (f'"not a name": "{VALUE}"\n', r"key 'not a name': expected a variable name"),
    ],
)
def test_anything_else_is_one_error_naming_the_file_never_the_value(
    tmp_path: Path, text: str, expected: str
) -> None:
    with pytest.raises(SecretPolicyError, match=expected) as refused:
        load_secrets_file(_file(tmp_path, text))
    assert VALUE not in str(refused.value)


def test_a_file_others_may_read_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = _file(tmp_path, f'T4O_SECRET_A: "{VALUE}"\n')
    path.chmod(0o644)
    with pytest.raises(SecretPolicyError, match="readable or writable by others"):
        load_secrets_file(path)
