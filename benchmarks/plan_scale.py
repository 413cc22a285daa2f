"""A no-change plan of N tenants against a sandbox with 20 ms latency.

    python benchmarks/plan_scale.py [--tenants 1000] [--latency-ms 20] [--parallelism 8]

Generates N tenant files (see _common.py: ~43 items each) and seeds them into a fresh
sandbox **through apply** (``workflow.execute_plan`` at latency 0, so the live state is
exactly what apply makes; not timed), then restarts the sandbox over the same database with
``--latency-ms L`` and times the real plan path: load + validate, read live, diff, render.

Prints the wall time, the HTTP requests, the network bound and the ratio to each target:

* local part (load + validate, diff, render) of 1,000 tenants: under 2 s;
* read of the live state: within 1.3x of its network bound. The bound is the critical
  path of the read at latency L: the tenant list is cursor-paginated, so its P pages
  follow one another (each needs the previous cursor); each page's tenants are fetched
  (``slugs=``) while the next page is listed, so only the last fetch adds to the path:

      bound = (P + 1) x L        with P = ceil(N / 100)

  (a plain paged bulk read, page after page, has the bound P x L.) The whole plan's wall
  time is printed against local + bound too: the time no implementation of this path
  could beat on this machine.

Then (issue 24) the parser table and the warm load's parts (``parse_parts.py``), and the
real CLI's no-change plan as its own process against the same sandbox: cold (an empty
parse cache, ``T4O_CACHE=readwrite``), with the cache off (``T4O_CACHE=off``, what a CI
job does by default) and warm (best of ``--repeats``), each with its peak resident set
(``wait4``). Targets: warm under **1.1 s** for 1,000 tenants (0.1x octoDNS's no-change
dry-run in issue 24's measurement) and under **8 s** and **300 MB** for 10,000. octoDNS
is not run here: the ratio is to those targets.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import (
    ITEMS_PER_TENANT,
    REPO,
    Sandbox,
    create_token,
    generate,
    ratio,
    sandbox,
    set_secrets,
)
from parse_parts import load_parts, parser_table

from t4o_reconcile.engine.digest import UNKEYED
from t4o_reconcile.render.text import render_text
from t4o_reconcile.workflow import PlanRequest, execute_plan, plan_configuration

LOCAL_TARGET_S = 2.0
READ_TARGET_RATIO = 1.3
PAGE = 100
WARM_TARGET_S = {1000: 1.1, 10000: 8.0}
MEMORY_TARGET_MB = 300.0


async def seed(root: Path, db: Path, token: str, parallelism: int) -> None:
    """Apply the generated tenants at latency 0: the state a no-change plan starts from."""
    with sandbox(db, latency_ms=0, token=token) as box:
        provider = box.provider(parallelism)
        try:
            options = PlanRequest(path=root, digest_key=UNKEYED)  # with a saved plan's digests
            plan = (await plan_configuration(options, provider)).plan
            assert not plan.has_errors, render_text(plan, color=False)
            report = await execute_plan(
                plan, provider, parallelism=parallelism, allow_deletes=False, fail_fast=False
            )
            assert report.ok, report.summary()
        finally:
            await provider.aclose()


async def measure(
    root: Path, db: Path, token: str, tenants: int, latency_ms: int, parallelism: int
) -> None:
    latency = latency_ms / 1000
    with sandbox(db, latency_ms=latency_ms, token=token) as box:
        provider = box.provider(parallelism)
        try:
            options = PlanRequest(path=root, digest_key=UNKEYED)  # with a saved plan's digests
            started = time.perf_counter()
            planned = await plan_configuration(options, provider)
            planned_at = time.perf_counter()
            text = render_text(planned.plan, color=False)
            wall = time.perf_counter() - started
            render = wall - (planned_at - started)
            requests = provider.client.request_count
        finally:
            await provider.aclose()
    assert not planned.plan.has_changes, "the plan is not empty:\n" + text
    assert len(planned.plan.tenants) == tenants, f"planned {len(planned.plan.tenants)} tenants"

    timings = planned.timings
    local = timings["load"] + timings["diff"] + render
    pages = math.ceil(tenants / PAGE)
    bound = (pages + 1) * latency
    read = timings["read"]
    print(
        f"no-change plan of {tenants} tenants: {wall:.2f} s wall, {requests} HTTP requests"
        f" (parallelism {parallelism}, latency {latency_ms} ms)"
    )
    print(
        f"  local part {local:.2f} s = load+validate {timings['load']:.2f} s"
        f" + diff {timings['diff']:.2f} s + render {render:.3f} s;"
        f" ratio to the {LOCAL_TARGET_S:g} s target: {ratio(local, LOCAL_TARGET_S)}"
    )
    print(
        f"  read live {read:.2f} s; bound ({pages} list pages + 1 fetch) x {latency_ms} ms"
        f" = {bound:.2f} s; read / bound = {ratio(read, bound)};"
        f" ratio to the {READ_TARGET_RATIO}x target:"
        f" {ratio(read / bound if bound else 0.0, READ_TARGET_RATIO)}"
    )
    print(
        f"  whole plan {wall:.2f} s against local + bound {local + bound:.2f} s:"
        f" {ratio(wall, local + bound)}"
    )


def cli_plan(root: Path, box: Sandbox, cache: str, cache_dir: Path) -> tuple[float, float]:
    """The real CLI's plan as its own process: (wall seconds, peak MB); fails unless the
    plan is empty."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "T4O_CACHE")}
    env.update(
        T4O_API_URL=box.url,
        T4O_API_TOKEN=box.token,
        T4O_CACHE=cache,
        T4O_CACHE_DIR=str(cache_dir),
        PYTHONPATH=str(REPO),
    )
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "t4o_reconcile", "plan", str(root), "--detailed-exitcode"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert process.stderr is not None
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"the CLI plan exited {code} (not an empty plan):\n{errors.decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024


def cli_plans(
    root: Path, db: Path, token: str, tenants: int, latency_ms: int, repeats: int
) -> None:
    cache_dir = db.parent / "cli-cache"
    with sandbox(db, latency_ms=latency_ms, token=token) as box:
        cold = cli_plan(root, box, "readwrite", cache_dir)
        off = cli_plan(root, box, "off", cache_dir)
        warm = min(cli_plan(root, box, "readwrite", cache_dir) for _ in range(repeats))
    target = WARM_TARGET_S.get(tenants)
    print(
        f"\nthe CLI's no-change plan of {tenants} tenants as its own process"
        f" (serve at {latency_ms} ms; peak resident set from wait4):"
    )
    print(f"  {'run':<44} {'wall s':>7} {'peak MB':>8}")
    for label, (seconds, peak) in (
        ("cold: empty parse cache (parses, writes it)", cold),
        ("cache off (T4O_CACHE=off, CI's default)", off),
        (f"warm: every file cached (best of {repeats})", warm),
    ):
        print(f"  {label:<44} {seconds:>7.2f} {peak:>8.0f}")
    if target is not None:
        print(
            f"  warm against the {target:g} s target: {ratio(warm[0], target)};"
            f" peak against {MEMORY_TARGET_MB:.0f} MB: {ratio(warm[1], MEMORY_TARGET_MB)}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3, help="best of N for each figure")
    args = parser.parse_args()
    set_secrets(args.tenants)
    with tempfile.TemporaryDirectory(prefix="t4o-plan-scale-") as tmp:
        root = Path(tmp) / "tenants"
        db = Path(tmp) / "sandbox.db"
        # This process's own loads use a cache of their own, never the user's.
        os.environ["T4O_CACHE_DIR"] = str(Path(tmp) / "cache")
        generate(root, args.tenants)
        token = create_token(db)
        started = time.perf_counter()
        asyncio.run(seed(root, db, token, max(args.parallelism, 16)))
        print(
            f"seeded {args.tenants} tenants x {ITEMS_PER_TENANT} items through apply at"
            f" latency 0 in {time.perf_counter() - started:.1f} s (not timed below)"
        )
        asyncio.run(measure(root, db, token, args.tenants, args.latency_ms, args.parallelism))
        parser_table(root, Path(tmp) / "table-cache", args.repeats)
        load_parts(root, Path(tmp) / "cache", args.repeats)
        cli_plans(root, db, token, args.tenants, args.latency_ms, args.repeats)


if __name__ == "__main__":
    main()
