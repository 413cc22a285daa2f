"""apply of N tenants created from nothing against a sandbox with 20 ms latency.

    python benchmarks/apply_scale.py [--tenants 1000] [--latency-ms 20] [--parallelism 8]

Generates N tenant files (see _common.py: ~43 items each), starts ``t4o-reconcile serve
--latency-ms L`` over a fresh SQLite file, makes the plan (not timed) and times the real
apply path (``workflow.execute_plan``). Prints the wall time, the HTTP requests sent, the
bound for that latency and parallelism and the ratio to the 1.2x target; then plans
again and fails unless that plan is empty.

The bound counts one request per planned action, so a request that is not an action (a
read after a write) counts against the ratio. Apply writes the agreements first, one
after another, then runs P tenants at a time, each tenant's writes strictly in order. So
no schedule can beat

    agreement actions x L  +  max(tenant actions / P, longest tenant's actions) x L

and with tenants of equal size the second term is tenant actions / P x L.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx
from _common import ITEMS_PER_TENANT, Sandbox, generate, ratio, sandbox, set_secrets

from t4o_reconcile.engine.digest import UNKEYED
from t4o_reconcile.render.text import render_text
from t4o_reconcile.workflow import PlanRequest, execute_plan, plan_configuration

TARGET_RATIO = 1.2


async def bench(root: Path, db: Path, tenants: int, latency_ms: int, parallelism: int) -> None:
    latency = latency_ms / 1000
    with sandbox(db, latency_ms=latency_ms) as box:
        provider = box.provider(parallelism)
        # The digests a saved plan carries, under the public key (no credentials here).
        options = PlanRequest(path=root, digest_key=UNKEYED)
        try:
            planned = await plan_configuration(options, provider)
            plan = planned.plan
            assert not plan.has_errors, render_text(plan, color=False)
            counts = plan.counts()
            print(f"plan: {counts} ({sum(planned.timings.values()):.2f} s, not timed below)")
            agreement_writes = len(plan.agreement_actions)

            client = provider.client
            before = client.request_count
            server_cpu = box.cpu_seconds()
            client_cpu = time.process_time()
            started = time.perf_counter()
            report = await execute_plan(
                plan, provider, parallelism=parallelism, allow_deletes=False, fail_fast=False
            )
            wall = time.perf_counter() - started
            client_cpu = time.process_time() - client_cpu
            server_cpu = box.cpu_seconds() - server_cpu
            requests = client.request_count - before
            assert report.ok, report.summary() + "".join(
                f"\n  {entry.address}: {entry.message}" for entry in report.failed()[:10]
            )

            tenant_actions = len(report.actions) - agreement_writes
            per_tenant = tenant_actions / tenants
            # Tenants are alike, so the longest tenant is the mean; it only wins when
            # there are fewer tenants than parallel slots.
            bound = agreement_writes * latency + max(tenant_actions / parallelism, per_tenant) * (
                latency
            )
            print(
                f"apply: {tenants} tenants, {len(report.actions)} actions, {requests} requests"
                f" ({(requests - agreement_writes) / tenants:.1f} per tenant for"
                f" {per_tenant:.1f} actions) in {wall:.2f} s = {requests / wall:,.0f} requests/s"
            )
            print(
                f"bound at {latency_ms} ms, parallelism {parallelism}:"
                f" {agreement_writes} x {latency_ms} ms + {tenant_actions} / {parallelism}"
                f" x {latency_ms} ms = {bound:.2f} s; wall / bound = {ratio(wall, bound)}"
                f" (target {TARGET_RATIO}: ratio to target"
                f" {ratio(wall / bound if bound else 0.0, TARGET_RATIO)})"
            )

            print(
                f"CPU per request: client {client_cpu / requests * 1000:.2f} ms, server"
                f" {server_cpu / requests * 1000:.2f} ms (busy {client_cpu / wall:.0%} and"
                f" {server_cpu / wall:.0%} of a core)"
            )
            # What one request costs here with nothing of this tool in the way: the floor
            # under apply's time per request, whatever the bound says.
            floor = await bare_requests(box, parallelism, count=parallelism * 100)
            per_request = wall / ((requests - agreement_writes) / parallelism)
            print(
                f"a bare httpx GET /v1/whoami, {parallelism} at a time: {floor * 1000:.2f} ms"
                f" per request ({ratio(floor, latency)}x the {latency_ms} ms latency); apply:"
                f" {per_request * 1000:.2f} ms per request in a slot"
                f" ({ratio(per_request, floor)}x the bare GET)"
            )

            again = await plan_configuration(options, provider)
            assert not again.plan.has_changes, "a plan after apply is not empty:\n" + render_text(
                again.plan, color=False
            )
            print("plan after apply: no changes")
        finally:
            await provider.aclose()


async def bare_requests(box: Sandbox, parallelism: int, *, count: int) -> float:
    """Seconds per request of ``parallelism`` bare clients sending ``count`` trivial GETs
    over kept-alive connections: the sandbox's latency plus its and the machine's cost."""
    headers = {"Authorization": f"Bearer {box.token}"}
    limits = httpx.Limits(max_connections=parallelism)
    async with httpx.AsyncClient(base_url=box.url, headers=headers, limits=limits) as client:

        async def slot() -> None:
            for _ in range(count // parallelism):
                (await client.get("/v1/whoami")).raise_for_status()

        await asyncio.gather(*(client.get("/v1/whoami") for _ in range(parallelism)))
        started = time.perf_counter()
        await asyncio.gather(*(slot() for _ in range(parallelism)))
        return (time.perf_counter() - started) / (count // parallelism)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--parallelism", type=int, default=8)
    args = parser.parse_args()
    set_secrets(args.tenants)
    with tempfile.TemporaryDirectory(prefix="t4o-apply-scale-") as tmp:
        root = Path(tmp) / "tenants"
        generate(root, args.tenants)
        print(f"generated {args.tenants} tenant files of {ITEMS_PER_TENANT} items")
        asyncio.run(
            bench(root, Path(tmp) / "sandbox.db", args.tenants, args.latency_ms, args.parallelism)
        )


if __name__ == "__main__":
    main()
