"""make_plan and the renderers at scale: 1,000 tenants of ~40 items each.

Target: diff + render (text, JSON, Markdown) well under a second. Prints the figures and
the ratio to the target. Run: python benchmarks/engine_scale.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.snapshot import Item, Snapshot
from t4o_reconcile.render.json import render_json
from t4o_reconcile.render.markdown import render_markdown
from t4o_reconcile.render.text import render_text
from tests.engine.builders import desired_tenant, live_twin

TENANTS = 1_000
TARGET_SECONDS = 1.0


def build() -> tuple[Snapshot, Snapshot]:
    desired, live = Snapshot(), Snapshot()
    for n in range(TENANTS):
        want = desired_tenant(f"tenant-{n:04d}")
        users = want.sections["users"]
        for u in range(25):  # ~40 items per tenant in all
            email = f"user{u}@tenant-{n}.no"
            users[email] = Item(
                {"email": email, "name": f"User {u}", "role": "member", "programs": {}}
            )
        have = live_twin(want)
        if n % 10 == 0:  # a tenth of the tenants has a change
            have.sections["billing"][""].fields["licenses"] = 1
        desired.tenants[want.slug] = want
        live.tenants[have.slug] = have
    return desired, live


def main() -> None:
    desired, live = build()
    items = sum(len(i) for t in desired.tenants.values() for i in t.sections.values())
    start = time.perf_counter()
    plan = make_plan(desired, live, target="bench")
    diffed = time.perf_counter()
    render_text(plan, color=False)
    render_json(plan)
    render_markdown(plan)
    done = time.perf_counter()
    total = done - start
    print(f"tenants: {TENANTS}, desired items: {items}, actions: {sum(plan.counts().values())}")
    print(f"make_plan: {diffed - start:.3f} s, renderers: {done - diffed:.3f} s")
    print(
        f"total: {total:.3f} s; target {TARGET_SECONDS:.1f} s; ratio {total / TARGET_SECONDS:.2f}"
    )

    # The worst case: every tenant new, so every item is a create to diff and render.
    start = time.perf_counter()
    plan = make_plan(desired, Snapshot(), target="bench")
    render_text(plan, color=False)
    render_json(plan)
    render_markdown(plan)
    total = time.perf_counter() - start
    print(f"all {sum(plan.counts().values())} actions new: {total:.3f} s (ratio {total:.2f})")


if __name__ == "__main__":
    main()
