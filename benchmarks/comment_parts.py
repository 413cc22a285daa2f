"""The pull-request comment of a 1,000-tenant change: how many parts, the largest one.

Every tenant changes (a phone number, a user added, a template's subject), so every tenant
has a block; the comment is split into parts below 65,000 characters with each tenant in
exactly one part. Prints the count, the largest part and the time. Run:
python benchmarks/comment_parts.py [--out DIR] (DIR gets the parts, to look at).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.order import iter_flat
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.snapshot import Snapshot
from t4o_reconcile.render.markdown import MAX_CHARS, comment_parts, write_comment_parts
from tests.engine.builders import desired_tenant, live_twin

TENANTS = 1_000


def build() -> Plan:
    desired, live = Snapshot(), Snapshot()
    for n in range(TENANTS):
        want = desired_tenant(f"tenant-{n:04d}")
        have = live_twin(want)
        have.sections["identity"][""].fields["contact"]["phone"] = f"+4722{n:06d}"
        users = have.sections["users"]
        del users[sorted(users)[-1]]
        for item in have.sections["email_templates"].values():
            item.fields["subject"] = "Old subject"
        desired.tenants[want.slug] = want
        live.tenants[have.slug] = have
    return make_plan(desired, live, target="https://api.example.com (token …abcd)")


def main() -> None:
    plan = build()
    started = time.perf_counter()
    parts = comment_parts(plan)
    took = time.perf_counter() - started
    shown = re.findall(r"<summary><strong>(tenant-\d{4})", "".join(parts))
    assert sorted(shown) == sorted(t.slug for t in plan.tenants), "each tenant exactly once"
    largest = max(len(p) for p in parts)
    assert largest < MAX_CHARS
    print(f"{TENANTS} tenants changed, {sum(1 for _ in iter_flat(plan))} actions")
    print(f"comment parts: {len(parts)}; largest {largest:,} characters (limit {MAX_CHARS:,})")
    print(f"rendered in {took:.2f} s")
    if "--out" in sys.argv:
        out = Path(sys.argv[sys.argv.index("--out") + 1])
        print(f"wrote {len(write_comment_parts(plan, out))} parts to {out}")


if __name__ == "__main__":
    main()
