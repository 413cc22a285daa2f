"""Wall time and peak memory of the real CLI at 1,000 and 10,000 tenants.

    python benchmarks/memory_scale.py [--tenants 1000 10000] [--formats text json markdown]
                                      [--skip-apply]

For each N: N generated tenant files (see _common.py: ~43 items each) and a fresh
embedded sandbox (``T4O_SANDBOX_DB`` in a temporary folder). Each step is the real
``t4o-reconcile`` command run as its own process, its output thrown away, and its peak
memory: the kernel's peak resident set (``wait4``'s ``ru_maxrss``, which also counts the
parent's resident set at the start, about 45 MB here: a floor, not the step's own), or,
when the step starts processes (the files' child from 200 files on, the parse workers,
the fork server), the most the whole tree held at once (``_common.Run``):

1. ``validate``;
2. ``plan`` against the empty sandbox (every tenant created), once per ``--formats``;
3. the CI kit's path for that change: the pull request's ``plan --without-secrets
   --out``, ``show`` of that saved plan, the merge's ``plan --reviewed --out`` (planned
   again with the secrets and compared with the reviewed plan) and ``apply --plan`` of
   its plan (loaded, planned again, compared, applied: creates everything; skipped with
   ``--skip-apply``, which also skips 4);
4. ``plan`` again: no changes, the everyday nightly run.

Targets: every step under **300 MB** at 10,000 tenants; the no-change plan of 1,000
tenants under **1.1 s** and of 10,000 under **8 s**. Each row prints the ratio to its
target (below 1.00 meets it).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from _common import embedded_env, generate, run_cli

MEMORY_TARGET_MB = 300.0
NO_CHANGE_TARGET_S = {1000: 1.1, 10000: 8.0}


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    seconds: float
    peak_mb: float
    exit_code: int


def run(name: str, args: list[str], env: dict[str, str], cwd: Path) -> Step:
    done = run_cli(args, env, cwd)
    if done.exit_code not in (0, 2):
        sys.exit(f"{name} failed ({done.exit_code}):\n{done.errors}")
    return Step(name, done.seconds, done.peak_mb, done.exit_code)


def bench(count: int, formats: list[str], skip_apply: bool) -> list[Step]:
    with tempfile.TemporaryDirectory(prefix="t4o-memory-") as tmp:
        root = Path(tmp) / "tenants"
        # In a child: the kernel counts the parent's resident set into a child's peak
        # (wait4's ru_maxrss survives the vfork + exec that starts each step), so the
        # parent stays as small as it can.
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            pool.apply(generate, (root, count))
        env = embedded_env(Path(tmp), count)
        cwd = Path(tmp)
        steps = [run("validate", ["validate", str(root)], env, cwd)]
        for fmt in formats:
            steps.append(
                run(f"plan --format {fmt}", ["plan", str(root), "--format", fmt], env, cwd)
            )
        reviewed, merged = str(Path(tmp) / "reviewed.plan"), str(Path(tmp) / "merged.plan")
        steps.append(
            run(
                "plan --out, no secrets",
                ["plan", str(root), "--without-secrets", "--out", reviewed],
                env,
                cwd,
            )
        )
        steps.append(run("show (the saved plan)", ["show", reviewed], env, cwd))
        steps.append(
            run(
                "plan --reviewed --out",
                ["plan", str(root), "--reviewed", reviewed, "--out", merged],
                env,
                cwd,
            )
        )
        if not skip_apply:
            steps.append(run("apply --plan", ["apply", str(root), "--plan", merged], env, cwd))
            steps.append(
                run("plan, no changes", ["plan", str(root), "--detailed-exitcode"], env, cwd)
            )
            if steps[-1].exit_code != 0:
                sys.exit("the plan after apply is not empty")
        return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--formats", nargs="+", default=["text", "json", "markdown"])
    parser.add_argument("--skip-apply", action="store_true")
    args = parser.parse_args()
    header = f"{'tenants':>7}  {'step':<22} {'wall s':>8} {'peak MB':>8}  ratio to target"
    print(header)
    print("-" * len(header))
    for count in args.tenants:
        for step in bench(count, args.formats, args.skip_apply):
            ratios = [f"memory {step.peak_mb / MEMORY_TARGET_MB:.2f}"]
            if step.name.startswith("plan, no changes") and count in NO_CHANGE_TARGET_S:
                ratios.append(f"time {step.seconds / NO_CHANGE_TARGET_S[count]:.2f}")
            print(
                f"{count:>7}  {step.name:<22} {step.seconds:>8.2f} {step.peak_mb:>8.0f}  "
                + ", ".join(ratios)
            )
    print(
        f"\ntargets: under {MEMORY_TARGET_MB:.0f} MB at 10,000 tenants; a no-change plan of"
        " 1,000 tenants under 1.1 s, of 10,000 under 8 s (memory ratios at 1,000 are shown"
        " against the same 300 MB)"
    )


if __name__ == "__main__":
    main()
