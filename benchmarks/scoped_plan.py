"""A pull request's plan and its merge plan in a 10,000-tenant repository: the time grows
with the pull request, not with the repository (issue 21.1).

    python benchmarks/scoped_plan.py [--tenants 10000 ...] [--changed 3] [--repeats 3]

Setup (not timed): N generated tenant files (see _common.py: ~43 items each) committed
on ``main`` of a fresh git repository; an embedded sandbox (``T4O_SANDBOX_DB`` in a
temporary folder) holding N live tenants: the ``--changed`` ones made by the real
``apply --tenant`` from their files, every other one stored straight into the sandbox's
database (a tenant with its owner and membership: the scoped plans never read them,
which is what is measured; seeding 10,000 tenants through apply takes far longer than
the benchmark). A branch then changes ``--changed`` tenant files (a phone number each).

Timed, each the real ``t4o-reconcile`` command as its own process (start-up included,
as CI runs it, the secret values in a ``T4O_SECRETS_FILE`` for the merge job only), best
of ``--repeats``:

1. the pull-request job: ``plan --changed-since main --without-secrets --out pr.plan``
   on the branch;
2. the merge job: after ``git merge --no-ff`` into main, ``plan --reviewed pr.plan
   --changed-since HEAD^1 --out merged.plan``;
3. ``apply --plan merged.plan`` (writes the changes), for the record.

Target: the pull-request plan and the merge plan each under **1 s** on the embedded
sandbox; the ratio to that bound is printed (below 1.00 meets it), for the wall time and
for the process's CPU time (user + system: on a busy machine the wall time is mostly
waiting for a core).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import REPO, generate, secrets, slug_of

TARGET_S = 1.0


def git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"git {args[0]}: {done.stderr.strip()}")
    return done.stdout


def cli(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, CPU seconds (user + system of the process, from the kernel's
    accounting of reaped children) and the output of one run of the real CLI."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "t4o_reconcile", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 2):
        raise SystemExit(f"t4o-reconcile {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, cpu, done.stdout


def store_others(db: Path, count: int, applied: set[str]) -> None:
    """Every generated tenant but ``applied`` straight into the sandbox's database."""
    sys.path.insert(0, str(REPO))
    from t4o_reconcile.api.embedded import LOCAL_PARTNER
    from t4o_reconcile.sandbox import store as sections
    from t4o_reconcile.sandbox.store import Principal, Store

    store = Store(db)
    try:
        with store.transaction(Principal(LOCAL_PARTNER), write=True) as tx:
            for n in range(count):
                slug = slug_of(n)
                if slug in applied:
                    continue
                owner = f"owner@{slug}.example"
                tx.insert_tenant(
                    slug,
                    LOCAL_PARTNER,
                    owner,
                    {
                        "slug": slug,
                        "name": f"Club {n}",
                        "organization_number": None,
                        "personal_number": None,
                        "contact": None,
                        "address": None,
                        "defaults": {"timing_system": "none", "finish_code": None},
                        "billing": {"licenses": 1, "invoice_recipient": "partner"},
                    },
                )
                tx.put(slug, sections.MEMBERSHIP, "", {"agreement": None}, 1)
                user = {
                    "email": owner,
                    "name": "Owner",
                    "role": "owner",
                    "programs": {"invoicing": "admin"},
                    "status": "active",
                }
                tx.put(slug, sections.USERS, owner, user, 1)
    finally:
        store.close()


def best(repeats: int, args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """The best wall time of ``repeats`` runs, and the CPU time of that run."""
    runs = [cli(args, env, cwd)[:2] for _ in range(repeats)]
    return min(runs)


def measure(count: int, changed_count: int, repeats: int, keep: Path | None) -> None:
    """Set up ``count`` tenants with ``changed_count`` changed on a branch, and time the
    pull-request plan and the merge plan."""
    with contextlib.ExitStack() as stack:
        if keep is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="t4o-scoped-"))
        else:
            keep.mkdir(parents=True)
            tmp = str(keep)
        work = Path(tmp) / "repo"
        tenants = work / "tenants"
        started = time.perf_counter()
        generate(tenants, count)
        git(work, "init", "-q", "-b", "main")
        git(work, "add", ".")
        git(work, "commit", "-q", "-m", "tenants")
        db = Path(tmp) / "sandbox" / "sandbox.db"
        # As the CI kit runs: the pull-request job holds no secret values, the merge job
        # reads them from one file (T4O_SECRETS_FILE); only the setting that names the
        # shared secret is in the environment.
        values = secrets(count)
        secrets_file = Path(tmp) / "secrets.yaml"
        secrets_file.write_text(
            "".join(
                f"{name}: {json.dumps(value)}\n"
                for name, value in values.items()
                if name != "T4O_SHARED_SECRETS"
            )
        )
        secrets_file.chmod(0o600)
        pr_env = {
            **os.environ,
            "T4O_SHARED_SECRETS": values["T4O_SHARED_SECRETS"],
            "T4O_SANDBOX_DB": str(db),
            "T4O_API_URL": "embedded",
            "NO_COLOR": "1",
            "PYTHONPATH": str(REPO),
        }
        pr_env.pop("CI", None)
        env = {**pr_env, "T4O_SECRETS_FILE": str(secrets_file)}
        # Spread over the repository, so that neither end of the listing is favoured.
        step = max(1, count // changed_count)
        changed = [slug_of(n) for n in range(step // 2, count, step)][:changed_count]
        db.parent.mkdir(parents=True)
        store_others(db, count, set(changed))
        tenant_flags = [flag for slug in changed for flag in ("--tenant", slug)]
        cli(["apply", "tenants", *tenant_flags, "--auto-approve"], env, work)
        git(work, "checkout", "-q", "-b", "change")
        for slug in changed:
            path = tenants / f"{slug}.yaml"
            text = path.read_text()
            path.write_text(text.replace("'+47 22 33 44 55'", "'+47 99 00 11 22'", 1))
        edited = [
            slug for slug in changed if "+47 99 00 11 22" in (tenants / f"{slug}.yaml").read_text()
        ]
        if len(edited) != len(changed):
            raise SystemExit("the generated files have no contact phone to change")
        git(work, "commit", "-q", "-am", "three phones")
        print(
            f"setup: {count} tenants in git and live, {len(changed)} changed on a"
            f" branch ({', '.join(changed)}), {time.perf_counter() - started:.1f} s"
        )

        pr_args = ["plan", "tenants", "--changed-since", "main", "--without-secrets"]
        pr = best(repeats, [*pr_args, "--out", str(Path(tmp) / "pr.plan")], pr_env, work)
        _, _, shown = cli(["show", str(Path(tmp) / "pr.plan")], env, work)
        git(work, "checkout", "-q", "main")
        git(work, "merge", "-q", "--no-ff", "-m", "merge change", "change")
        merge_args = [
            "plan",
            "tenants",
            "--reviewed",
            str(Path(tmp) / "pr.plan"),
            "--changed-since",
            "HEAD^1",
            "--out",
            str(Path(tmp) / "merged.plan"),
        ]
        merged = best(repeats, merge_args, env, work)
        applied, _, _ = cli(
            ["apply", "tenants", "--plan", str(Path(tmp) / "merged.plan")], env, work
        )
        summary = next((line for line in shown.splitlines() if "skipped" in line), "")
        print(f"pull-request plan: {summary.strip()}")
        print(f"{'step':<48} {'wall s':>7} {'cpu s':>6} {'wall/1 s':>9} {'cpu/1 s':>8}")
        for name, (wall, cpu) in (
            ("pull-request plan (--changed-since main)", pr),
            ("merge plan (--reviewed, --changed-since HEAD^1)", merged),
        ):
            print(f"{name:<48} {wall:7.2f} {cpu:6.2f} {wall / TARGET_S:9.2f} {cpu / TARGET_S:8.2f}")
        print(f"{'apply --plan merged.plan (no target)':<48} {applied:7.2f}")
        print(f"load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tenants",
        type=int,
        nargs="+",
        default=[10_000],
        help="repository sizes (several: the figures should not grow with it)",
    )
    parser.add_argument("--changed", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--keep",
        type=Path,
        help="set up in this new folder and leave it there, to profile the commands again",
    )
    args = parser.parse_args()
    if args.keep is not None and len(args.tenants) > 1:
        parser.error("--keep takes one repository size")
    for count in args.tenants:
        measure(count, args.changed, args.repeats, args.keep)


if __name__ == "__main__":
    main()
