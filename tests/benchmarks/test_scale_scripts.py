"""The scale benchmarks run end to end with a tiny N, so they cannot rot unnoticed.

Only that they work and report their figures is checked here: the timings themselves
belong to the scripts' output, never to an assertion.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_script(name: str, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("T4O_")}
    # As documented: from the repository root, with no installed package needed.
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / name), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_plan_scale_seeds_then_reports_a_no_change_plan() -> None:
    out = run_script("plan_scale.py", "--tenants", "5", "--latency-ms", "0")

    assert "seeded 5 tenants" in out
    assert "no-change plan of 5 tenants" in out
    assert "local part" in out and "ratio to the 2 s target" in out
    assert "read live" in out and "ratio to the 1.3x target" in out


def test_apply_scale_creates_everything_and_the_next_plan_is_empty() -> None:
    out = run_script("apply_scale.py", "--tenants", "5", "--latency-ms", "0")

    assert "apply: 5 tenants" in out
    assert "bound at 0 ms, parallelism 8" in out
    assert "plan after apply: no changes" in out
    assert "(38.0 per tenant for 38.0 actions)" in out  # one request per action
    assert "CPU per request: client" in out
    assert "a bare httpx GET /v1/whoami, 8 at a time:" in out and "(n/ax the 0 ms latency)" in out


def test_rate_limit_reports_a_row_per_parallelism_and_phase() -> None:
    out = run_script(
        "rate_limit.py", "--tenants", "3", "--rate-limit", "50", "--parallelism", "2", "8"
    )

    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("2 ", "8 "))]
    assert [(row[0], row[1]) for row in rows] == [
        ("2", "apply"),
        ("2", "plan"),
        ("8", "apply"),
        ("8", "plan"),
    ]
    assert all(row[-1] == "0" for row in rows)  # no failed action
    assert "targets (apply)" in out


def test_memory_scale_measures_every_step_of_the_real_cli() -> None:
    out = run_script("memory_scale.py", "--tenants", "3", "--formats", "text", "json")

    steps = [line[9:31].strip() for line in out.splitlines() if line.startswith("      3")]
    assert steps == [
        "validate",
        "plan --format text",
        "plan --format json",
        "plan --out, no secrets",
        "show (the saved plan)",
        "plan --reviewed --out",
        "apply --plan",
        "plan, no changes",
    ]
    assert "memory 0." in out and "targets:" in out


def test_comment_parts_reports_the_parts_of_a_big_change() -> None:
    out = run_script("comment_parts.py")

    assert "1000 tenants changed" in out
    assert "comment parts:" in out and "largest" in out


def test_input_limits_reports_the_accepted_and_the_refused_files() -> None:
    out = run_script("input_limits.py", "--oversized-mb", "2")

    assert "largest accepted" in out and "oversized (2 MB)" in out and "too deep" in out
    assert "ratio to target" in out
