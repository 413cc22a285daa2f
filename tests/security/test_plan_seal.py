"""Issue 20, class 1 (the plan file's side): a plan that apply --plan executes carries a
MAC over its whole content, made with a key the pull-request job does not hold. Any edit,
a missing seal or another key is refused with one line, before anything is parsed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from t4o_reconcile.engine.planfile import load_plan, save_plan
from t4o_reconcile.errors import PlanFileError
from tests.e2e.conftest import Server, cli
from tests.render.plans import json_document, mixed_plan

KEY = b"k" * 32
MISMATCH = "the plan's seal does not match: it was edited, or made with another key"


def _sealed(tmp_path: Path, key: bytes | None = KEY) -> Path:
    path = tmp_path / "sealed.plan"
    save_plan(mixed_plan(), path, key=key)
    return path


def test_a_sealed_plan_loads_with_its_key_and_ends_with_the_seal(tmp_path: Path) -> None:
    import hashlib
    import hmac

    plan = mixed_plan()
    path = tmp_path / "sealed.plan"
    save_plan(plan, path, key=KEY)
    *body, last = path.read_bytes().splitlines(keepends=True)
    seal = json.loads(last)["seal"]
    assert seal == {
        "alg": "hmac-sha256",
        "mac": hmac.new(KEY, b"".join(body), hashlib.sha256).hexdigest(),
    }
    loaded = load_plan(path, key=KEY, require_seal=True)
    assert json_document(loaded) == json_document(plan)


def _edits(data: bytes) -> dict[str, bytes]:
    lines = data.splitlines(keepends=True)
    header = json.loads(lines[0])
    header["deletes_approved"] = True
    return {
        "approval added to the header": json.dumps(header).encode() + b"\n" + b"".join(lines[1:]),
        "one byte of a tenant": data.replace(b'"ok-skogen"', b'"ok-skogex"', 1),
        "a tenant dropped": b"".join([lines[0], *lines[2:]]),
        "the seal removed": b"".join(lines[:-1]),
        "a line added after the seal": data + lines[1],
        "the mac changed": data[:-5] + (b"0" if data[-5:-4] != b"0" else b"1") + data[-4:],
    }


@pytest.mark.parametrize(
    "edit",
    [
        "approval added to the header",
        "one byte of a tenant",
        "a tenant dropped",
        "the seal removed",
        "a line added after the seal",
        "the mac changed",
    ],
)
def test_any_edit_is_refused_with_one_line(tmp_path: Path, edit: str) -> None:
    path = _sealed(tmp_path)
    path.write_bytes(_edits(path.read_bytes())[edit])
    with pytest.raises(PlanFileError) as refused:
        load_plan(path, key=KEY, require_seal=True)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(str(path))
    assert MISMATCH in message or "has no seal" in message or "expected the seal" in message


def test_another_key_or_no_seal_is_refused(tmp_path: Path) -> None:
    path = _sealed(tmp_path)
    with pytest.raises(PlanFileError, match=MISMATCH):
        load_plan(path, key=b"other", require_seal=True)
    unsealed = _sealed(tmp_path, key=None)
    with pytest.raises(PlanFileError, match="has no seal"):
        load_plan(unsealed, key=KEY, require_seal=True)


def test_the_seal_is_checked_before_anything_is_parsed(tmp_path: Path) -> None:
    """A hostile body with a wrong seal is refused for its seal: the parser never sees
    it (the first pass reads raw bytes only)."""
    path = _sealed(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    hostile = b'{"slug": ' + b"[" * 200_000 + b"]" * 200_000 + b"}\n"
    path.write_bytes(b"".join([lines[0], hostile, *lines[2:]]))
    with pytest.raises(PlanFileError, match=MISMATCH):
        load_plan(path, key=KEY, require_seal=True)


def test_a_record_may_lack_the_seal_and_a_present_one_is_checked(tmp_path: Path) -> None:
    unsealed = _sealed(tmp_path, key=None)
    assert load_plan(unsealed, key=KEY, require_seal=False).tenants.slugs()
    assert load_plan(unsealed, key=None, require_seal=False).tenants.slugs()
    sealed = _sealed(tmp_path)
    assert load_plan(sealed, key=None, require_seal=False).tenants.slugs()
    with pytest.raises(PlanFileError, match=MISMATCH):
        load_plan(sealed, key=b"other", require_seal=False)
    with pytest.raises(PlanFileError, match="no key"):
        load_plan(sealed, key=None, require_seal=True)


@pytest.mark.e2e
def test_apply_runs_only_a_plan_sealed_with_the_key(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    keyed = server.env(T4O_PLAN_KEY="the-apply-jobs-key-" + "0" * 32)
    unsealed = tmp_path / "pr.plan"
    made = cli("plan", examples_copy, "--without-secrets", "--out", unsealed, env=server.env())
    assert made.returncode == 0, made.stderr
    refused = cli("apply", examples_copy, "--plan", unsealed, env=keyed)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.strip().splitlines() == [
        f"Error: {unsealed}: the plan has no seal: apply needs a plan saved with the plan key"
    ]

    sealed = tmp_path / "merge.plan"
    made = cli("plan", examples_copy, "--out", sealed, env=keyed)
    assert made.returncode == 0, made.stderr
    original = sealed.read_bytes()
    header = json.loads(original.splitlines()[0])
    header["deletes_approved"] = True
    sealed.write_bytes(
        json.dumps(header).encode() + b"\n" + b"".join(original.splitlines(keepends=True)[1:])
    )
    edited = cli("apply", examples_copy, "--plan", sealed, env=keyed)
    assert edited.returncode == 1
    assert edited.stderr.strip().splitlines() == [f"Error: {sealed}: {MISMATCH}"]
    other = cli("apply", examples_copy, "--plan", sealed, env=server.env(T4O_PLAN_KEY="x" * 32))
    assert other.returncode == 1 and MISMATCH in other.stderr

    sealed.write_bytes(original)
    applied = cli("apply", examples_copy, "--plan", sealed, env=keyed)
    assert applied.returncode == 0, applied.stderr
