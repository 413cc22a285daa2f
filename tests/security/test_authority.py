"""Class 1: a plan file records; it never authorises.

Approving deletes, deleting unmanaged tenants and the scope come from the flags of the job
that applies; a saved or reviewed plan only narrows them. A plan that apply --plan
executes carries a seal (an HMAC under a key the pull-request job does not hold), and any
edit of it is refused with one line. The end-to-end cases drive the real CLI against a
sandbox process, as an attacker who can push a branch and holds the read-only token
would."""

from __future__ import annotations

import ast
import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from t4o_reconcile.api.target import Target
from t4o_reconcile.engine.authority import Authority, delete_refusals, grant
from t4o_reconcile.engine.plan import Plan, TenantPlan
from t4o_reconcile.engine.planstore import TenantStore
from t4o_reconcile.errors import PlanFileError, UsageError, WorkflowError
from t4o_reconcile.workflow import (
    PlanRequest,
    RunOptions,
    Scope,
    digest_key,
    plan_key,
    read_plan,
    write_plan,
)
from tests.e2e.conftest import Server, cli, plan_document
from tests.e2e.helpers import EXTRA_USER, edit_tenant, live_state

REPO = Path(__file__).resolve().parents[2]
KEY = b"k" * 32
REMOTE = Target(url="https://api.example.com", token="writing-token-0123456789")


def _plan(**fields: object) -> Plan:
    tenants = fields.pop("tenants", None)
    if tenants is not None:
        fields["tenants"] = TenantStore(tenants)  # type: ignore[arg-type]
    return Plan(target="https://api.example.com", **fields)  # type: ignore[arg-type]


# -- grant: the file narrows the flags, never widens them -----------------------------------


def test_deletes_approved_in_the_file_approves_nothing_without_the_flag() -> None:
    granted = grant(Authority(), _plan(deletes_approved=True), "apply --plan")

    assert granted.deletes_approved is False


def test_the_flag_approves_only_what_the_file_recorded_as_approved() -> None:
    assert grant(Authority(allow_deletes=True), _plan(), "apply --plan").deletes_approved is False
    both = grant(Authority(allow_deletes=True), _plan(deletes_approved=True), "apply --plan")
    assert both.deletes_approved is True


def test_deleting_unmanaged_tenants_asked_by_the_file_is_refused_naming_the_flag() -> None:
    with pytest.raises(UsageError) as refused:
        grant(Authority(allow_deletes=True), _plan(delete_unmanaged=True), "plan --reviewed")

    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("plan --reviewed: the plan deletes unmanaged tenants")
    assert "pass --delete-unmanaged" in message
    granted = grant(Authority(delete_unmanaged=True), _plan(), "plan --reviewed")
    assert granted.delete_unmanaged is False  # the flag allows; the file did not ask


def test_a_file_that_covers_more_tenants_than_the_flags_is_refused_naming_them() -> None:
    flags = Authority(tenants=frozenset({"il-fjellrev"}))

    with pytest.raises(UsageError) as wider:
        grant(flags, _plan(only=["il-fjellrev", "ok-skogen"]), "apply --plan")
    with pytest.raises(UsageError) as leaving:
        grant(flags, _plan(only=["il-fjellrev"], leaving=["kartverkstedet"]), "apply --plan")
    with pytest.raises(UsageError) as whole:
        grant(flags, _plan(only=None), "apply --plan")

    assert "pass --tenant for each of them" in str(wider.value)
    assert "ok-skogen" in str(wider.value) and "il-fjellrev" not in str(wider.value)
    assert "kartverkstedet" in str(leaving.value)
    assert "covers every tenant, but this run allows only --tenant il-fjellrev" in str(whole.value)


def test_a_file_that_covers_fewer_tenants_narrows_the_run() -> None:
    granted = grant(Authority(), _plan(only=["il-fjellrev"], leaving=["gone"]), "apply --plan")
    named = grant(
        Authority(tenants=frozenset({"il-fjellrev", "ok-skogen"})),
        _plan(only=["il-fjellrev"]),
        "apply --plan",
    )

    assert granted.only == frozenset({"il-fjellrev"})
    assert granted.leaving == frozenset({"gone"})
    assert named.only == frozenset({"il-fjellrev"})


def test_a_re_plan_request_is_built_from_the_file_within_the_flags() -> None:
    saved = _plan(only=["il-fjellrev"], deletes_approved=True, changed_since="main")
    options = RunOptions(path=Path("tenants"), allow_deletes=False)

    request = PlanRequest.from_saved(options, saved, digest_key=KEY, what="apply --plan")

    assert request.scope == Scope(only=frozenset({"il-fjellrev"}))
    assert request.deletes_approved is False
    assert request.delete_unmanaged is False
    assert request.attribute is False and request.digests


def test_delete_refusals_name_the_missing_flag_or_the_missing_record() -> None:
    tenant = TenantPlan(slug="ok-skogen", deletes_need_flag=["deletes user a@b.no"])
    plan = _plan(tenants=[tenant])

    assert delete_refusals(plan, allowed=False) == [
        "ok-skogen: needs --allow-deletes (deletes user a@b.no)"
    ]
    assert "made without --allow-deletes" in delete_refusals(plan, allowed=True, recorded=False)[0]
    assert delete_refusals(plan, allowed=True, recorded=True) == []


# -- options that do not change under you ------------------------------------------------------


def test_options_and_requests_are_frozen() -> None:
    options = RunOptions(path=Path("tenants"))
    request = PlanRequest(path=Path("tenants"))

    with pytest.raises(dataclasses.FrozenInstanceError):
        options.tenants = ("x",)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.deletes_approved = True  # type: ignore[misc]


def test_no_code_writes_a_field_of_the_options() -> None:
    written = []
    for module in ("workflow.py", "cli.py"):
        tree = ast.parse((REPO / "t4o_reconcile" / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                targets = node.targets
            elif isinstance(node, ast.AugAssign | ast.AnnAssign):
                targets = [node.target]
            else:
                continue
            for target in targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id in ("options", "request")
                ):
                    written.append(f"{module}:{node.lineno}")
    assert written == []


def test_the_plan_and_apply_commands_stay_short() -> None:
    tree = ast.parse((REPO / "t4o_reconcile" / "cli.py").read_text())
    lengths = {
        node.name: (node.end_lineno or 0) - node.lineno + 1
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name in ("plan", "apply")
    }
    assert lengths.keys() == {"plan", "apply"}
    assert max(lengths.values()) < 40, lengths


# -- the keys ------------------------------------------------------------------------------------


def test_the_plan_key_is_t4o_plan_key_else_derived_from_the_token() -> None:
    configured = {"T4O_PLAN_KEY": "p" * 40}
    other_token = dataclasses.replace(REMOTE, token="read-only-token-0123456789")

    assert plan_key(REMOTE, configured) == plan_key(other_token, configured)
    assert plan_key(REMOTE, {}) != plan_key(other_token, {})  # a read-only token's key
    assert plan_key(REMOTE, {}) != plan_key(REMOTE, configured)
    assert plan_key(REMOTE, {}) != digest_key(REMOTE, {})  # never the digest's key
    assert plan_key(REMOTE, {}) is not None


def test_no_token_gives_no_plan_key_and_no_digest_key() -> None:
    nobody = Target(url="https://api.example.com", token=None)

    assert plan_key(nobody, {}) is None
    with pytest.raises(WorkflowError, match="no key for the plan's config digest"):
        digest_key(nobody, {})


def test_a_short_t4o_plan_key_is_an_error() -> None:
    with pytest.raises(UsageError, match="T4O_PLAN_KEY is too short"):
        plan_key(REMOTE, {"T4O_PLAN_KEY": "secret"})


def test_a_missing_key_is_an_error_where_a_seal_is_required(tmp_path: Path) -> None:
    path = tmp_path / "p.plan"
    write_plan(_plan(), path, key=KEY)

    with pytest.raises(WorkflowError, match="no plan key to check the plan's seal"):
        read_plan(path, key=None, require_seal=True)
    assert read_plan(path, key=KEY, require_seal=True).target == "https://api.example.com"


# -- the seal ------------------------------------------------------------------------------------


def _sealed(tmp_path: Path) -> Path:
    path = tmp_path / "p.plan"
    write_plan(_plan(tenants=[TenantPlan(slug="ok-skogen")]), path, key=KEY)
    return path


def _verify(path: Path, key: bytes) -> None:
    read_plan(path, key=key, require_seal=True)


def test_a_sealed_plan_verifies_and_reads_back_as_written(tmp_path: Path) -> None:
    path = _sealed(tmp_path)
    lines = path.read_bytes().splitlines()

    assert json.loads(lines[-1])["seal"]["alg"] == "hmac-sha256"
    assert read_plan(path, key=KEY, require_seal=True).tenants[0].slug == "ok-skogen"
    assert read_plan(path).tenants[0].slug == "ok-skogen"  # a record: read, not trusted


@pytest.mark.parametrize("where", [0, 1, 40, -90, -60, -3, -1])
def test_any_one_byte_edit_of_a_sealed_plan_is_refused_in_one_line(
    tmp_path: Path, where: int
) -> None:
    path = _sealed(tmp_path)
    data = bytearray(path.read_bytes())
    data[where] = ord("X") if data[where] != ord("X") else ord("Y")
    path.write_bytes(bytes(data))

    with pytest.raises(PlanFileError) as refused:
        _verify(path, KEY)

    assert "\n" not in str(refused.value) and str(path) in str(refused.value)


def test_a_removed_or_appended_seal_and_another_key_are_refused(tmp_path: Path) -> None:
    path = _sealed(tmp_path)
    body, seal = path.read_bytes().rsplit(b"\n", 2)[0], path.read_bytes().splitlines()[-1]
    unsealed = tmp_path / "unsealed.plan"
    unsealed.write_bytes(body + b"\n")
    appended = tmp_path / "appended.plan"
    appended.write_bytes(path.read_bytes() + b'{"deletes_approved":true}\n')
    moved = tmp_path / "moved.plan"
    moved.write_bytes(body + b"\n" + seal + b"\n" + seal + b"\n")

    for edited in (unsealed, appended, moved):
        with pytest.raises(PlanFileError):
            _verify(edited, KEY)
    with pytest.raises(PlanFileError, match="made with another key"):
        _verify(path, b"o" * 32)
    with pytest.raises(PlanFileError, match="has no seal"):
        _verify(unsealed, KEY)


# -- end to end: the real CLI against a sandbox process ------------------------------------------

e2e = pytest.mark.e2e


def _with_extra_user(server: Server, examples: Path) -> None:
    """Live: the examples plus one user of ok-skogen whom the files do not have, so a
    plan of the examples deletes a user: a delete that needs --allow-deletes."""
    with_user = examples.parent / "with-user"
    with_user.mkdir()
    for path in examples.glob("*.yaml"):
        with_user.joinpath(path.name).write_text(path.read_text())
    edit_tenant(
        with_user,
        "ok-skogen",
        lambda d: d["users"].append({"email": EXTRA_USER, "name": "Gammel", "role": "member"}),
    )
    applied = cli("apply", with_user, "--auto-approve", env=server.env())
    assert applied.returncode == 0, applied.stderr


def _users(server: Server) -> set[str]:
    return {user["email"] for user in live_state(server)["ok-skogen"]["users"]}


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in stderr
    return lines[0]


@e2e
def test_deletes_approved_edited_into_a_saved_plan_does_not_delete_the_user(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    _with_extra_user(server, examples_copy)
    saved = tmp_path / "tenants.plan"
    assert cli("plan", examples_copy, "--out", saved, env=server.env()).returncode == 0
    text = saved.read_text()
    assert '"deletes_approved":false' in text
    saved.write_text(text.replace('"deletes_approved":false', '"deletes_approved":true'))

    applied = cli("apply", examples_copy, "--plan", saved, env=server.env())
    with_flag = cli("apply", examples_copy, "--plan", saved, "--allow-deletes", env=server.env())

    for refused in (applied, with_flag):
        assert refused.returncode == 1
        assert "seal does not match: it was edited" in _error_line(refused.stderr)
    assert EXTRA_USER in _users(server)


@e2e
def test_a_plan_approved_at_review_deletes_only_with_the_flag_of_the_applying_job(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    _with_extra_user(server, examples_copy)
    approved = tmp_path / "approved.plan"
    made = cli("plan", examples_copy, "--allow-deletes", "--out", approved, env=server.env())
    assert made.returncode == 0, made.stderr
    assert plan_document(approved)["deletes_approved"] is True

    refused = cli("apply", examples_copy, "--plan", approved, env=server.env())
    assert refused.returncode == 1
    assert "ok-skogen: needs --allow-deletes" in refused.stderr
    assert EXTRA_USER in _users(server)

    applied = cli("apply", examples_copy, "--plan", approved, "--allow-deletes", env=server.env())
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert EXTRA_USER not in _users(server)


@e2e
def test_a_plan_sealed_by_the_pull_request_job_is_not_applied(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    """The pull-request job's token can only read: the key derived from it is not the
    applying job's, so its seal never verifies there."""
    _with_extra_user(server, examples_copy)
    reader = server.read_only_token()
    forged = tmp_path / "forged.plan"
    made = cli(
        "plan", examples_copy, "--allow-deletes", "--out", forged,
        env=server.env(T4O_API_TOKEN=reader),
    )  # fmt: skip
    assert made.returncode == 0, made.stderr

    applied = cli("apply", examples_copy, "--plan", forged, env=server.env())

    assert EXTRA_USER in _users(server)
    assert applied.returncode == 1
    assert "made with another key" in _error_line(applied.stderr)


@e2e
def test_a_forged_reviewed_plan_cannot_make_the_merge_job_delete_a_tenant(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    assert cli("apply", examples_copy, "--auto-approve", env=server.env()).returncode == 0
    reader = server.read_only_token()
    # The pull request removes a tenant's file: the reviewer sees it leave management and
    # stay on the API. The attacker's artifact asks for its deletion instead, made by the
    # tool itself with the read-only token, so every version and action matches.
    (examples_copy / "kartverkstedet.yaml").unlink()
    pr_env = server.env(T4O_API_TOKEN=reader)
    forged = tmp_path / "forged.plan"
    made = cli(
        "plan", examples_copy, "--without-secrets", "--delete-unmanaged", "--allow-deletes",
        "--out", forged, env=pr_env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert plan_document(forged)["delete_unmanaged"] is True
    merged = tmp_path / "merged.plan"

    # The merge job as the kit runs it: the reviewed plan checked, then applied.
    checked = cli("plan", examples_copy, "--reviewed", forged, "--out", merged, env=server.env())
    if merged.exists():
        cli("apply", examples_copy, "--plan", merged, env=server.env())
    # With the label's --allow-deletes, but not --delete-unmanaged: still refused.
    labelled = cli(
        "plan", examples_copy, "--reviewed", forged, "--allow-deletes", "--out", merged,
        env=server.env(),
    )  # fmt: skip

    assert "kartverkstedet" in live_state(server)
    for refused in (checked, labelled):
        assert refused.returncode == 1
        line = _error_line(refused.stderr)
        assert "the plan deletes unmanaged tenants" in line and "--delete-unmanaged" in line
    assert not merged.exists()


@e2e
def test_the_scope_of_a_reviewed_plan_cannot_widen_the_merge_job(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    assert cli("apply", examples_copy, "--auto-approve", env=server.env()).returncode == 0
    reader = server.read_only_token()
    edit_tenant(examples_copy, "il-fjellrev", lambda d: d.update(name="IL Fjellreven"))
    edit_tenant(examples_copy, "ok-skogen", lambda d: d.update(name="OK Skogen AS"))
    pr_env = server.env(T4O_API_TOKEN=reader)
    both, one = tmp_path / "both.plan", tmp_path / "one.plan"
    for out, tenants in ((both, ["il-fjellrev", "ok-skogen"]), (one, ["il-fjellrev"])):
        flags = [arg for slug in tenants for arg in ("--tenant", slug)]
        made = cli("plan", examples_copy, "--without-secrets", *flags, "--out", out, env=pr_env)
        assert made.returncode == 0, made.stderr
    merged = tmp_path / "merged.plan"

    wider = cli(
        "plan", examples_copy, "--reviewed", both, "--tenant", "il-fjellrev", "--out", merged,
        env=server.env(),
    )  # fmt: skip
    assert wider.returncode == 1
    line = _error_line(wider.stderr)
    assert "covers tenant(s) this run does not allow: ok-skogen" in line
    assert "pass --tenant" in line
    assert not merged.exists()

    # Narrower is fine: the file plans fewer tenants, and apply does fewer.
    narrowed = cli("plan", examples_copy, "--reviewed", one, "--out", merged, env=server.env())
    assert narrowed.returncode == 0, narrowed.stderr
    applied = cli("apply", examples_copy, "--plan", merged, env=server.env())
    assert applied.returncode == 0, applied.stdout + applied.stderr
    live = live_state(server)
    assert live["il-fjellrev"]["tenant"]["name"] == "IL Fjellreven"
    assert live["ok-skogen"]["tenant"]["name"] != "OK Skogen AS"


@e2e
def test_apply_plan_without_a_seal_or_with_a_short_key_is_refused_in_one_line(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    assert cli("apply", examples_copy, "--auto-approve", env=server.env()).returncode == 0
    edit_tenant(examples_copy, "il-fjellrev", lambda d: d.update(name="IL Fjellreven"))
    saved = tmp_path / "tenants.plan"
    keyed: Mapping[str, str] = {"T4O_PLAN_KEY": "a-long-operator-key-" + "x" * 20}
    assert cli("plan", examples_copy, "--out", saved, env=server.env(**keyed)).returncode == 0
    unsealed = tmp_path / "unsealed.plan"
    unsealed.write_text(saved.read_text().rstrip("\n").rpartition("\n")[0] + "\n")

    other_key = cli("apply", examples_copy, "--plan", saved, env=server.env())
    no_seal = cli("apply", examples_copy, "--plan", unsealed, env=server.env(**keyed))
    short_key = cli("apply", examples_copy, "--plan", saved, env=server.env(T4O_PLAN_KEY="x"))
    applied = cli("apply", examples_copy, "--plan", saved, env=server.env(**keyed))

    assert "made with another key" in _error_line(other_key.stderr)
    assert "has no seal" in _error_line(no_seal.stderr)
    assert "T4O_PLAN_KEY is too short" in _error_line(short_key.stderr)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert live_state(server)["il-fjellrev"]["tenant"]["name"] == "IL Fjellreven"
