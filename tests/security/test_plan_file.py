"""Class 4: the saved plan file reveals nothing about a secret. Its config digest keys
every secret with a key derived from the API token, which the plan file does not hold: the
plan file, the repository and a list of guesses cannot confirm any guess."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.engine import digest
from tests.config.conftest import desired_of
from tests.e2e.conftest import Server, cli
from tests.security.canary import assert_no_canary, canaries_of, outputs, planted

pytestmark = pytest.mark.e2e

# Keys someone holding only the plan file and the repository can know or guess.
PUBLIC_KEYS = [b"t4o-reconcile/config-digest/secret/v1", b"", b"t4o-reconcile"]


def _digests_for(folder: Path, guess: dict[str, str]) -> set[str]:
    loaded = load_repository(folder, environ=guess)
    assert loaded.repository is not None
    desired = desired_of(loaded.repository)
    found = {digest.config_digest(desired)}
    for key in PUBLIC_KEYS:
        with contextlib.suppress(TypeError):  # a digest function without a key
            found.add(digest.config_digest(desired, key))
    return found


def test_a_plan_file_and_a_list_of_guesses_confirm_no_guess(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    secrets = planted()
    plan_file = tmp_path / "tenants.plan"
    made = cli("plan", examples_copy, "--out", plan_file, env=server.env(**secrets))
    assert made.returncode == 0, made.stderr
    saved = json.loads(plan_file.read_text().splitlines()[0])["config_digest"]

    def guess(value: str) -> dict[str, str]:
        # Every secret guessed; the personal number kept valid, or nothing loads.
        return {n: v if n.endswith("PERSONAL_NUMBER") else value for n, v in secrets.items()}

    guesses = [
        guess("wrong-guess"),
        {name: value.lower() for name, value in secrets.items()},
        dict(secrets),  # the right values: still not confirmable
    ]
    confirmed = [guess for guess in guesses if saved in _digests_for(examples_copy, guess)]

    assert confirmed == []
    assert_no_canary(outputs([made], plan_file), canaries_of(server, secrets))
    # The digest does protect the plan: the same files with the same values apply, and a
    # changed value makes the saved plan stale.
    applied = cli("apply", examples_copy, "--plan", plan_file, env=server.env(**secrets))
    assert applied.returncode == 0, applied.stderr
    again = cli("plan", examples_copy, "--out", plan_file, env=server.env(**secrets))
    assert again.returncode == 0
    rotated = {**secrets, next(iter(secrets)): "rotated-value"}
    stale = cli("apply", examples_copy, "--plan", plan_file, env=server.env(**rotated))
    assert stale.returncode == 1 and "stale" in stale.stderr


# -- Class 5 of issue 20: a plan file is untrusted input ----------------------------------
#
# Each case below gave a traceback, or was accepted, on the plan file read by jsonstream:
# 200,000 levels (RecursionError), 10 million digits (ValueError of int()), a lone
# surrogate and duplicate keys (accepted, the last key winning), a 200 MB string (612 MB).


def _saved(tmp_path: Path) -> Path:
    from t4o_reconcile.engine.planfile import save_plan
    from tests.render.plans import mixed_plan

    path = tmp_path / "saved.plan"
    save_plan(mixed_plan(), path, key=None)
    return path


def _with_tenant_line(tmp_path: Path, line: bytes) -> Path:
    """A saved plan whose second line (its first tenant's) is ``line``."""
    path = _saved(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], line + b"\n", *lines[2:]]))
    return path


HOSTILE: dict[str, tuple[bytes, str]] = {
    "nesting 200,000 deep": (
        b'{"slug": "x", "actions": ' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        r":2:\d+: expected values nested at most 64 deep",
    ),
    "an integer of 10 million digits": (
        b'{"slug": "x", "n": 1' + b"0" * 10_000_000 + b"}",
        r":2:\d+: expected a line of at most|:2:\d+: expected a number of at most 32 digits",
    ),
    "a lone surrogate": (
        b'{"slug": "x\\ud800", "actions": []}',
        r":2:12: expected text, found a lone surrogate",
    ),
    "duplicate keys": (
        b'{"slug": "ok-skogen", "slug": "ok-new", "actions": []}',
        r":2:23: expected each key once, found 'slug' twice",
    ),
    "invalid UTF-8": (b'{"slug": "\xc3\x28"}', r":2:11: expected UTF-8 text"),
    "NaN": (b'{"slug": "x", "n": NaN}', r":2:20: expected JSON, found NaN"),
    "a float out of range": (b'{"slug": "x", "n": 1e999}', r":2:20: expected a finite number"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_plan_file_is_one_error_line_naming_line_and_column(
    tmp_path: Path, case: str
) -> None:
    from t4o_reconcile.engine.planfile import load_plan
    from t4o_reconcile.errors import PlanFileError

    line, where = HOSTILE[case]
    path = _with_tenant_line(tmp_path, line)
    with pytest.raises(PlanFileError, match=where) as refused:
        load_plan(path, key=None, require_seal=False)
    assert "\n" not in str(refused.value) and str(refused.value).startswith(str(path))


def test_a_ten_million_digit_integer_within_a_line_is_refused_before_int(tmp_path: Path) -> None:
    from t4o_reconcile.engine.planfile import PlanFileLimits, load_plan
    from t4o_reconcile.errors import PlanFileError

    path = _with_tenant_line(tmp_path, b'{"slug": "x", "n": -1' + b"0" * 10_000_000 + b"}")
    roomy = PlanFileLimits(line_bytes=32 * 2**20)
    with pytest.raises(PlanFileError, match=r":2:20: expected a number of at most 32 digits"):
        load_plan(path, key=None, require_seal=False, limits=roomy)


def test_a_200_mb_string_is_refused_by_the_line_bound_in_little_memory(tmp_path: Path) -> None:
    import tracemalloc

    from t4o_reconcile.engine.planfile import load_plan
    from t4o_reconcile.errors import PlanFileError

    path = _saved(tmp_path)
    header = path.read_bytes().splitlines(keepends=True)[0]
    with path.open("wb") as handle:
        handle.write(header + b'{"slug": "')
        chunk = b"a" * 2**20
        for _ in range(200):
            handle.write(chunk)
        handle.write(b'"}\n')
    tracemalloc.start()
    try:
        with pytest.raises(PlanFileError, match=r":2:16777217: expected a line of at most"):
            load_plan(path, key=None, require_seal=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20, f"{peak / 2**20:.0f} MB"


def test_a_string_over_its_bound_and_a_file_over_its_size_are_refused(tmp_path: Path) -> None:
    from t4o_reconcile.engine.planfile import PlanFileLimits, load_plan
    from t4o_reconcile.errors import PlanFileError

    path = _with_tenant_line(tmp_path, b'{"slug": "x", "s": "' + b"b" * 5000 + b'"}')
    small = PlanFileLimits(string_chars=4096)
    with pytest.raises(PlanFileError, match=r":2:20: expected a string of at most 4096"):
        load_plan(path, key=None, require_seal=False, limits=small)
    with pytest.raises(PlanFileError, match=r"expected a plan file of at most 1000 bytes"):
        load_plan(path, key=None, require_seal=False, limits=PlanFileLimits(file_bytes=1000))


@pytest.mark.parametrize("case", ["nesting 200,000 deep", "a lone surrogate", "duplicate keys"])
def test_show_and_apply_print_one_error_line_and_no_traceback(tmp_path: Path, case: str) -> None:
    import subprocess
    import sys

    path = _with_tenant_line(tmp_path, HOSTILE[case][0])
    # show reads it as a record and refuses it where it breaks; apply checks the seal over
    # the raw bytes before it parses anything, and an attacker's file has none.
    for args, where in (
        (["show", str(path)], f"Error: {path}:2:"),
        (["apply", str(tmp_path), "--plan", str(path)], f"Error: {path}: the plan has no seal"),
    ):
        done = subprocess.run(
            [sys.executable, "-m", "t4o_reconcile", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr
        (line,) = done.stderr.splitlines()
        assert line.startswith(where), line
