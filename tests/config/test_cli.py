"""validate through the command line: exit codes, output, and a light --help."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from t4o_reconcile.cli import main

from .conftest import EXAMPLES, HEAD


def test_validate_examples_exits_0(example_env: dict[str, str]) -> None:
    result = CliRunner().invoke(main, ["validate", str(EXAMPLES)])

    assert result.exit_code == 0, result.output
    assert "tenant(s) valid" in result.output


def test_validate_bad_files_exits_1_and_lists_problems(tmp_path: Path) -> None:
    (tmp_path / "club.yaml").write_text(HEAD + "biling: 1\n")

    result = CliRunner().invoke(main, ["validate", str(tmp_path)])

    assert result.exit_code == 1
    assert "club.yaml:4:1: biling: unknown key 'biling'; did you mean 'billing'?" in result.output
    assert "1 problem(s) in 1 file(s)." in result.output


def test_validate_with_a_missing_secret_exits_1(monkeypatch: object, tmp_path: Path) -> None:
    (tmp_path / "club.yaml").write_text(
        HEAD
        + "connections:\n"
        + "  - {connector: eventor-norway, token: {secret: 'env:T4O_SECRET_CLUB_NOPE'}}\n"
    )

    checked = CliRunner().invoke(main, ["validate", str(tmp_path)])
    resolved = CliRunner().invoke(main, ["validate", "--resolve-secrets", str(tmp_path)])

    # Without --resolve-secrets only the reference is checked: no value is read.
    assert checked.exit_code == 0, checked.output
    assert resolved.exit_code == 1
    assert "T4O_SECRET_CLUB_NOPE is not set" in resolved.output


def test_help_does_not_import_heavy_packages() -> None:
    code = (
        "import sys\n"
        "from t4o_reconcile.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('fastapi', 'deepdiff', 'jsonschema', 'uvicorn')\n"
        "print('HEAVY', [m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout

    assert "HEAVY []" in out
    assert "validate" in out


SMTP_465_STARTTLS = (
    "email_account:\n"
    "  account_name: Mail\n  display_name: Club\n  address: post@club.no\n"
    "  username: post\n  password: {secret: 'env:T4O_SECRET_CLUB_SMTP'}\n"
    "  smtp_host: smtp.club.no\n  smtp_port: 465\n  encryption: starttls\n"
)


def test_validate_prints_a_warning_and_exits_0(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("T4O_SECRET_CLUB_SMTP", "x")
    (tmp_path / "club.yaml").write_text(HEAD + SMTP_465_STARTTLS)

    result = CliRunner().invoke(main, ["validate", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "club.yaml:11:14: warning: email_account.smtp_port: port 465 is for ssl" in (
        result.output
    )
    assert "1 warning(s)." in result.output
    assert "1 tenant(s) valid" in result.output


def test_validate_strict_fails_on_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("T4O_SECRET_CLUB_SMTP", "x")
    (tmp_path / "club.yaml").write_text(HEAD + SMTP_465_STARTTLS)

    result = CliRunner().invoke(main, ["validate", "--strict", str(tmp_path)])

    assert result.exit_code == 1
    assert "warning: email_account.smtp_port" in result.output
    assert "Warnings fail with --strict." in result.output


def test_validate_counts_errors_and_warnings_apart(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("T4O_SECRET_CLUB_SMTP", "x")
    (tmp_path / "club.yaml").write_text(HEAD + SMTP_465_STARTTLS)
    (tmp_path / "other.yaml").write_text(HEAD.replace("club", "other") + "biling: 1\n")

    result = CliRunner().invoke(main, ["validate", str(tmp_path)])

    assert result.exit_code == 1
    assert "1 problem(s) in 1 file(s) and 1 warning(s)." in result.output
