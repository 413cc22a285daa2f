"""The everyday run, side by side with octoDNS: a no-change plan of N tenants.

    python benchmarks/no_change_plan.py [--tenants 1000 10000] [--repeats 3]
                                        [--workdir DIR] [--profile] [--skip-parts]

For each N: N generated tenant files (see _common.py: 43 items each) and an embedded
sandbox seeded with exactly what ``apply`` makes of them (kept in ``--workdir`` and used
again by the next run: seeding 10,000 tenants takes minutes); and, when octoDNS is
installed (``pip install -e '.[bench]'``), N zones of 30 records each on both sides of
octoDNS's ``YamlProvider`` (octodns_zones.py).

Then ``--repeats`` rounds, interleaved so that a busy neighbour slows every contender
alike, each one run as its own process, with the CPU time and the peak resident set from
``wait4`` of it and of every process it started (the child that loads the files, the
parse workers, the fork server: see ``_common.Run``; ``procs`` counts them):

* cold: the real CLI's ``plan --detailed-exitcode`` with an empty parse cache (it parses
  every file and writes the cache);
* cache off: ``T4O_CACHE=off``, what a CI job does by default;
* warm: every file in the parse cache (the nightly drift job, a second local run);
* warm, in one process: the same with ``T4O_LOAD_IN_PROCESS=1``, the files loaded in a
  thread of the plan's process (what every plan of fewer than 200 files does);
* octoDNS: ``octodns-sync`` without ``--doit`` (its dry-run) over the N zones.

Printed: best of the rounds (and every round) for each, the ratio of each of ours to
octoDNS's, and the targets of issue 24: warm at 1,000 tenants at or under **0.1x**
octoDNS; at 10,000, warm under **8 s** and under **300 MB**. Then, in one process, where
the time goes part by part (CPU time, best of the rounds: wall time on a shared machine
measures the neighbours): start-up, read + cache, parse (cold only), validation, the
tenant's own checks, the desired snapshot, the live read, the diff and the render. With
``--profile``, the warm plan's cProfile (top functions by own time).

At 1,000 tenants it also prints the parser table of issue 24 (parse_parts.py).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _common import REPO, Run, run_cli, run_process, seeded_sandbox, set_secrets
from octodns_zones import RECORDS_PER_ZONE, available, dry_run
from parse_parts import best, load_parts, parser_table

from t4o_reconcile.loading_child import IN_PROCESS

WARM_RATIO_TARGET = 0.1  # of octoDNS's no-change dry-run, at 1,000 tenants
WARM_TARGET_S = {10000: 8.0}
MEMORY_TARGET_MB = {10000: 300.0}
# What the plan imports before it reads a file: the start-up of every run.
PLAN_IMPORTS = (
    "import t4o_reconcile.cli, t4o_reconcile.workflow, t4o_reconcile.config.loader,"
    " t4o_reconcile.config.desired, t4o_reconcile.api.http_provider,"
    " t4o_reconcile.api.embedded, t4o_reconcile.engine.diff, t4o_reconcile.render.text"
)


def our_plan(
    root: Path, env: dict[str, str], cache: str, cache_dir: Path, *, one_process: bool = False
) -> Run:
    settings = {"T4O_CACHE": cache, "T4O_CACHE_DIR": str(cache_dir)}
    if one_process:
        settings[IN_PROCESS] = "1"
    run = run_cli(["plan", str(root), "--detailed-exitcode"], {**env, **settings}, root.parent)
    if run.exit_code != 0:
        raise SystemExit(f"the plan exited {run.exit_code} (not an empty plan):\n{run.errors}")
    return run


def octodns_config(workdir: Path, count: int) -> Path:
    """octoDNS's zones, generated in a child (this process never imports octoDNS)."""
    import multiprocessing

    from octodns_zones import generate

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        config: Path = pool.apply(generate, (workdir, count))
    return config


def side_by_side(
    count: int, root: Path, env: dict[str, str], workdir: Path, repeats: int
) -> dict[str, list[Run]]:
    octodns = available()
    config = octodns_config(workdir / "octodns", count) if octodns else None
    warm_dir = workdir / "cache-warm"
    our_plan(root, env, "readwrite", warm_dir)  # fills the warm cache (not counted)
    runs: dict[str, list[Run]] = {"cold": [], "off": [], "warm": [], "one": [], "octodns": []}
    for round_ in range(repeats):
        cold_dir = workdir / f"cache-cold-{os.getpid()}-{round_}"
        runs["cold"].append(our_plan(root, env, "readwrite", cold_dir))
        if config is not None:
            runs["octodns"].append(dry_run(config, env))
        runs["warm"].append(our_plan(root, env, "readwrite", warm_dir))
        runs["off"].append(our_plan(root, env, "off", warm_dir))
        runs["one"].append(our_plan(root, env, "readwrite", warm_dir, one_process=True))
        shutil.rmtree(cold_dir, ignore_errors=True)
    print(
        f"\nno-change plan of {count} tenants against the embedded sandbox, and octoDNS's"
        f" no-change dry-run of {count} zones x {RECORDS_PER_ZONE} records"
        f" ({'octoDNS ' + octodns if octodns else 'octoDNS is not installed: not run'});"
        f" each its own process, {repeats} rounds interleaved; load average"
        f" {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    octo = min(runs["octodns"], key=lambda r: r.seconds) if runs["octodns"] else None
    print(
        f"  {'run':<44} {'best s':>7} {'median':>7} {'CPU s':>6} {'peak MB':>8}"
        f" {'/ octoDNS':>10} {'CPU /':>6} {'procs':>5}   rounds (wall s)"
    )
    labels = {
        "cold": "ours, cold: empty parse cache (fills it)",
        "off": "ours, cache off (T4O_CACHE=off, CI default)",
        "warm": "ours, warm: every file in the parse cache",
        "one": "ours, warm, files loaded in the plan's process",
        "octodns": "octodns-sync dry-run",
    }
    for name, label in labels.items():
        if not runs[name]:
            continue
        fastest = min(runs[name], key=lambda r: r.seconds)
        vs = f"{fastest.seconds / octo.seconds:>10.3f}" if octo is not None else f"{'-':>10}"
        cpu = min(r.cpu for r in runs[name])
        octo_cpu = min(r.cpu for r in runs["octodns"]) if octo is not None else 0.0
        cpu_vs = f"{cpu / octo_cpu:>6.3f}" if octo_cpu else f"{'-':>6}"
        rounds = " ".join(f"{r.seconds:.2f}" for r in runs[name])
        median = statistics.median(r.seconds for r in runs[name])
        print(
            f"  {label:<44} {fastest.seconds:>7.2f} {median:>7.2f} {cpu:>6.2f}"
            f" {max(r.peak_mb for r in runs[name]):>8.0f} {vs} {cpu_vs}"
            f" {max(r.processes for r in runs[name]):>5}   {rounds}"
        )
    warm = min(runs["warm"], key=lambda r: r.seconds)
    if octo is not None and count == 1000:
        met = "met" if warm.seconds <= WARM_RATIO_TARGET * octo.seconds else "NOT met"
        print(
            f"  target: warm at or under {WARM_RATIO_TARGET}x octoDNS"
            f" ({WARM_RATIO_TARGET * octo.seconds:.2f} s in this run):"
            f" {warm.seconds / octo.seconds:.3f}x, {met}"
        )
    if count in WARM_TARGET_S:
        met = (
            "met"
            if warm.seconds < WARM_TARGET_S[count]
            and max(r.peak_mb for r in runs["warm"]) < MEMORY_TARGET_MB[count]
            else "NOT met"
        )
        print(
            f"  target: warm under {WARM_TARGET_S[count]:g} s and {MEMORY_TARGET_MB[count]:g} MB:"
            f" {warm.seconds:.2f} s, {max(r.peak_mb for r in runs['warm']):.0f} MB, {met}"
        )
    return runs


def start_up(repeats: int) -> float:
    """The CPU time of a process that starts Python and imports what the plan imports."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return min(run_process([sys.executable, "-c", PLAN_IMPORTS], env).cpu for _ in range(repeats))


def plan_parts(root: Path, db: Path, repeats: int) -> list[tuple[str, float]]:
    """The live read, the diff and the render, each alone in this process (CPU time)."""
    from t4o_reconcile.api.http_provider import HttpProvider
    from t4o_reconcile.api.target import Target
    from t4o_reconcile.engine.diff import make_plan
    from t4o_reconcile.render.text import render_text
    from t4o_reconcile.workflow import gc_paused, load_desired

    _, desired = load_desired(root)

    live: list[object] = []

    async def read() -> None:
        provider = HttpProvider.from_target(Target(url=None, db_path=db).for_provider(8))
        try:
            # Kept here, not returned: asyncio.run's clean-up formats its task's result
            # (a repr of every tenant, about 0.4 s at 1,000), which no plan pays.
            live[:] = [await provider.read(None)]
        finally:
            await provider.aclose()

    def read_live() -> None:
        asyncio.run(read())

    def with_gc_paused(run: Callable[[], object]) -> Callable[[], object]:
        def paused() -> object:
            with gc_paused():
                return run()

        return paused

    reading = best(repeats, with_gc_paused(read_live))
    plans: list[object] = []

    def diff() -> None:
        plans[:] = [make_plan(desired, live[0], target="bench")]  # type: ignore[arg-type]

    diffing = best(repeats, with_gc_paused(diff))
    rendering = best(repeats, lambda: render_text(plans[0], color=False))  # type: ignore[arg-type]
    return [
        ("live read (embedded sandbox, both sides)", reading),
        ("diff (make_plan)", diffing),
        ("render (text)", rendering),
    ]


def profile(root: Path, db: Path, cache_dir: Path, top: int = 25) -> None:
    """cProfile of the warm plan in this process, as the CLI makes it."""
    from t4o_reconcile.api.http_provider import HttpProvider
    from t4o_reconcile.api.target import Target
    from t4o_reconcile.render.text import render_text
    from t4o_reconcile.workflow import PlanRequest, plan_configuration

    os.environ["T4O_CACHE"], os.environ["T4O_CACHE_DIR"] = "readwrite", str(cache_dir)

    async def plan() -> str:
        provider = HttpProvider.from_target(Target(url=None, db_path=db).for_provider(8))
        try:
            # As the CLI's plan without --out: no digests.
            planned = await plan_configuration(PlanRequest(path=root), provider)
        finally:
            await provider.aclose()
        return render_text(planned.plan, color=False)

    asyncio.run(plan())  # the cache filled, the modules imported
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(plan())
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    print(f"\ncProfile of the warm plan in one process, top {top} by own time:")
    print("\n".join(out.getvalue().splitlines()[4:]))


def parts(count: int, root: Path, workdir: Path, runs: dict[str, list[Run]], repeats: int) -> None:
    set_secrets(count)
    os.environ["T4O_CACHE_DIR"] = str(workdir / "cache-parts")
    loaded = load_parts(root, workdir / "cache-parts", repeats, quiet=True)
    planned = plan_parts(root, workdir / "sandbox.db", repeats)
    starting = start_up(repeats)
    rows = [("start-up: Python + the plan's imports", starting), *loaded, *planned]
    print(
        f"\nwhere a no-change plan of {count} tenants spends its time, part by part"
        f" (CPU time in one process, best of {repeats}; start-up is a process's own)"
    )
    print(f"  {'part':<48} {'s':>7} {'ms/tenant':>10}")
    for label, seconds in rows:
        print(f"  {label:<48} {seconds:>7.3f} {seconds / count * 1000:>10.3f}")
    warm_parts = sum(s for label, s in rows if not label.startswith(("parse", "whole")))
    warm = min(r.seconds for r in runs["warm"])
    cpu = min(r.cpu for r in runs["warm"])
    print(
        f"  sum of the warm plan's parts {warm_parts:.2f} s; the warm plan's best: wall"
        f" {warm:.2f} s, CPU {cpu:.2f} s (the live read's SQLite runs beside the load)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=3, help="rounds; best of them is shown")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("/tmp/t4o-no-change-plan"),
        help="where the seeded sandboxes are kept between runs",
    )
    parser.add_argument("--profile", action="store_true", help="print the warm plan's cProfile")
    parser.add_argument("--skip-parts", action="store_true", help="only the side-by-side runs")
    args = parser.parse_args()
    print(
        f"measured on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.uname().nodename}"
    )
    for count in args.tenants:
        workdir = args.workdir / str(count)
        root, env = seeded_sandbox(workdir, count)
        runs = side_by_side(count, root, env, workdir, args.repeats)
        if not args.skip_parts:
            if count == 1000:
                parser_table(root, workdir / "cache-table", args.repeats)
            parts(count, root, workdir, runs, args.repeats)
        if args.profile:
            profile(root, workdir / "sandbox.db", workdir / "cache-parts")


if __name__ == "__main__":
    main()
