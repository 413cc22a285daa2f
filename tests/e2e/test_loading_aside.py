"""A plan of many tenant files loads them in a child process (loading_child.py): the real
CLI says exactly what it says when it loads them itself, for valid files and for a
broken one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from stdnum.no import orgnr

from t4o_reconcile.loading_child import FROM, IN_PROCESS
from tests.e2e.conftest import base_env, cli

TENANTS = FROM + 40


def organization_numbers(count: int) -> list[str]:
    numbers: list[str] = []
    prefix = 91000000
    while len(numbers) < count:
        for digit in "0123456789":
            if orgnr.is_valid(f"{prefix}{digit}"):
                numbers.append(f"{prefix}{digit}")
                break
        prefix += 1
    return numbers


@pytest.fixture
def many(tmp_path: Path) -> Path:
    root = tmp_path / "tenants"
    root.mkdir()
    # Enough that the cold load in the child parses in a pool of workers of its own.
    for n, number in enumerate(organization_numbers(TENANTS)):
        slug = f"club-{n:04d}"
        (root / f"{slug}.yaml").write_text(
            f'slug: {slug}\nname: Club {n}\norganization_number: "{number}"\n'
            f"users:\n  - email: leder@{slug}.no\n    name: Leder {n}\n    role: owner\n"
        )
    return root


def both_ways(root: Path, *args: str) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """The CLI's plan of ``root`` with the files loaded aside, and loaded in its process."""
    runs = []
    for aside in (True, False):
        env = base_env()
        env["T4O_SANDBOX_DB"] = str(root.parent / "sandbox.db")  # a plan writes nothing
        env["T4O_CACHE"] = "off"  # every file parsed
        if not aside:
            env[IN_PROCESS] = "1"
        done = cli("plan", "tenants", *args, env=env, cwd=root.parent, timeout=300)
        runs.append((done.returncode, done.stdout, done.stderr))
    return runs[0], runs[1]


def test_a_plan_of_many_files_is_the_same_loaded_aside_or_here(many: Path) -> None:
    aside, here = both_ways(many, "--format", "json")

    assert aside[0] == here[0] == 0, aside[2] + here[2]
    planned, expected = json.loads(aside[1]), json.loads(here[1])
    for plan in (planned, expected):
        for made_by_each_run in ("plan_id", "created_at", "timings"):
            plan.pop(made_by_each_run, None)
    assert planned == expected
    assert len(planned["tenants"]) == TENANTS


def test_a_broken_file_among_many_is_reported_the_same_way(many: Path) -> None:
    (many / "club-0007.yaml").write_text("slug: club-0007\nname: [unclosed\n")

    aside, here = both_ways(many)

    assert aside == here
    assert aside[0] == 1 and "tenants/club-0007.yaml:2:" in aside[2]
    assert "Traceback" not in aside[2]


def test_the_plans_own_process_imports_no_model_of_the_files(many: Path) -> None:
    """Validation is the child's: the plan's process never imports pydantic, the tenant
    models or the YAML parser (a quarter of a second of its start)."""
    env = base_env()
    env["T4O_SANDBOX_DB"] = str(many.parent / "sandbox.db")
    script = (
        "import sys\n"
        "from t4o_reconcile.cli import main\n"
        "try:\n"
        "    main(['plan', 'tenants'])\n"
        "except SystemExit as exit:\n"
        "    print('exit', exit.code, file=sys.stderr)\n"
        "names = ('pydantic', 'yaml', 't4o_reconcile.config.tenant_models')\n"
        "print('imported', [name for name in names if name in sys.modules], file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=many.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert "exit 0" in done.stderr, done.stderr
    if (os.cpu_count() or 1) >= 2:  # else every load is the plan's own
        assert "imported []" in done.stderr, done.stderr
