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

The no-change plan as the CLI runs it (cold, cache off, warm), side by side with
octoDNS, with the parser table of issue 24 and the time of each part: no_change_plan.py.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import tempfile
import time
from pathlib import Path

from _common import (
    ITEMS_PER_TENANT,
    create_token,
    generate,
    ratio,
    sandbox,
    set_secrets,
)

from t4o_reconcile.engine.digest import UNKEYED
from t4o_reconcile.render.text import render_text
from t4o_reconcile.workflow import PlanRequest, execute_plan, plan_configuration

LOCAL_TARGET_S = 2.0
READ_TARGET_RATIO = 1.3
PAGE = 100


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--parallelism", type=int, default=8)
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


if __name__ == "__main__":
    main()
