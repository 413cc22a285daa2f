"""apply and plan against a rate-limited API: is the limit spent, and is it respected?

    python benchmarks/rate_limit.py [--tenants 200] [--rate-limit 20] [--parallelism 4 8 32]

For each parallelism: a fresh ``t4o-reconcile serve --rate-limit R`` (a token bucket of R
requests per second per token, announced in RateLimit headers), N small tenants applied
from nothing, then a no-change plan. The client is not told the limit: it learns it from
the answers. Printed per run: requests, wall time, throughput against the limit, the
share answered 429 and failed actions. Targets at every parallelism: throughput at least
0.95 of the limit, at most 2 % of requests answered 429, no failed action.

The tenants are small (identity, billing, invoicing, a bank account, three users: about
six requests each) so that the three runs take minutes, not the better part of an hour:
at 20 requests per second every request costs 50 ms whatever it carries.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from _common import sandbox, slug_of, valid_numbers
from stdnum.no import kontonr, orgnr

from t4o_reconcile.engine.digest import UNKEYED
from t4o_reconcile.workflow import PlanRequest, execute_plan, plan_configuration

MIN_THROUGHPUT = 0.95
MAX_THROTTLED = 0.02


def small_tenant(slug: str, n: int, org: str, account: str) -> str:
    users = "".join(
        f"  - {{email: {'owner' if u == 0 else f'user{u}'}@{slug}.no, name: User {u},"
        f" role: {'owner' if u == 0 else 'member'}, programs: {{invoicing: user}}}}\n"
        for u in range(3)
    )
    return (
        f"slug: {slug}\nname: Club {n}\norganization_number: '{org}'\n"
        f"billing:\n  licenses: 3\n  interval: monthly\n"
        f"invoicing:\n  next_invoice_number: {1000 + n}\n"
        f"bank_accounts:\n  - {{account_number: '{account}', invoice_account: true,"
        " default_for_payments: true}\n"
        f"users:\n{users}"
    )


def generate(root: Path, count: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    orgs = valid_numbers(orgnr.is_valid, 8, 92000000, count)
    accounts = valid_numbers(kontonr.is_valid, 10, 1504000000, count)
    for n in range(count):
        slug = slug_of(n)
        (root / f"{slug}.yaml").write_text(small_tenant(slug, n, orgs[n], accounts[n]))


@dataclass(frozen=True, slots=True)
class Phase:
    requests: int
    throttled: int
    wall: float
    failed: int

    def throughput(self) -> float:
        return self.requests / self.wall if self.wall else 0.0


async def run(root: Path, db: Path, rate: float, parallelism: int) -> tuple[Phase, Phase]:
    with sandbox(db, latency_ms=0, extra_args=("--rate-limit", f"{rate:g}")) as box:
        provider = box.provider(parallelism)
        # The digests a saved plan carries, under the public key (no credentials here).
        options = PlanRequest(path=root, digest_key=UNKEYED)
        client = provider.client
        try:
            planned = await plan_configuration(options, provider)
            assert not planned.plan.has_errors
            requests, throttled = client.request_count, client.pacer.throttled
            started = time.perf_counter()
            report = await execute_plan(
                planned.plan,
                provider,
                parallelism=parallelism,
                allow_deletes=False,
                fail_fast=False,
            )
            apply = Phase(
                client.request_count - requests,
                client.pacer.throttled - throttled,
                time.perf_counter() - started,
                report.counts()["failed"],
            )
            requests, throttled = client.request_count, client.pacer.throttled
            started = time.perf_counter()
            again = await plan_configuration(options, provider)
            plan = Phase(
                client.request_count - requests,
                client.pacer.throttled - throttled,
                time.perf_counter() - started,
                0,
            )
            assert not again.plan.has_changes, "the plan after apply is not empty"
            return apply, plan
        finally:
            await provider.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--rate-limit", type=float, default=20.0)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[4, 8, 32])
    args = parser.parse_args()
    rate = args.rate_limit
    print(f"{args.tenants} tenants applied from nothing, then a no-change plan,")
    print(f"against serve --rate-limit {rate:g} (the client learns the limit from the headers)\n")
    header = (
        f"{'parallelism':>11} {'phase':>6} {'requests':>8} {'wall s':>7} {'req/s':>6}"
        f" {'of limit':>8} {'429':>4} {'429 %':>6} {'failed':>6}"
    )
    print(header)
    print("-" * len(header))
    misses = 0
    for parallelism in args.parallelism:
        with tempfile.TemporaryDirectory(prefix="t4o-rate-") as tmp:
            root = Path(tmp) / "tenants"
            generate(root, args.tenants)
            apply, plan = asyncio.run(run(root, Path(tmp) / "sandbox.db", rate, parallelism))
        for name, phase in (("apply", apply), ("plan", plan)):
            share = phase.throttled / phase.requests if phase.requests else 0.0
            print(
                f"{parallelism:>11} {name:>6} {phase.requests:>8} {phase.wall:>7.1f}"
                f" {phase.throughput():>6.1f} {phase.throughput() / rate:>8.2f}"
                f" {phase.throttled:>4} {share:>6.1%} {phase.failed:>6}"
            )
        share = apply.throttled / apply.requests
        if apply.throughput() / rate < MIN_THROUGHPUT or share > MAX_THROTTLED or apply.failed:
            misses += 1
    print(
        f"\ntargets (apply): throughput >= {MIN_THROUGHPUT} of the limit, <= {MAX_THROTTLED:.0%}"
        " answered 429, no failed action;"
        f" {'met at every parallelism' if not misses else f'missed in {misses} run(s)'}."
        "\n(the no-change plan is a handful of bulk reads: its throughput is bounded by its"
        " own length, not the limit)"
    )


if __name__ == "__main__":
    main()
