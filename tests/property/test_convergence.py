"""The core property (docs/design.md): after a successful apply, plan shows no changes.

Generated repositories of tenant files go through the real loader, the real engine and the
HTTP provider against a fresh in-process sandbox per example:

1. any live state L (config A applied to an empty target) and any config B valid against
   it: plan(B) is clean, apply succeeds, and the next plan is empty;
2. a converged state plans empty (plan A right after apply A);
3. applying again (the plan re-made) writes nothing: every version stays the same;
4. a plan saved to a file and read back is fresh, and applying it converges;
5. with 20 % injected faults (5xx, writes dropped after commit) and only one retry, apply
   stops part-way but converges when run again, and nothing was created twice.

Run ``pytest --slow`` for the bigger profile; ``--hypothesis-show-statistics`` shows the
number of examples and the events (how many actions each one applied).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from t4o_reconcile.api.client import ApiClient, ApiError
from t4o_reconcile.engine.digest import UNKEYED
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.planfile import load_plan, save_plan
from t4o_reconcile.sandbox.faults import Faults
from t4o_reconcile.workflow import (
    PlanRequest,
    RunOptions,
    execute_plan,
    fresh_plan_for_saved,
    plan_configuration,
)
from tests.engine.builders import flatten
from tests.property.generators import (
    RepoData,
    first_repository,
    next_repository,
    org_numbers,
    owner_of,
)
from tests.property.harness import Sandbox, describe, failures, state

SLOW = settings.get_current_profile_name() == "slow"


def budget(normal: int, slow: int) -> settings:
    return settings(
        max_examples=slow if SLOW else normal,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


@st.composite
def two_repositories(draw: st.DrawFn) -> tuple[RepoData, RepoData, bool]:
    first = draw(first_repository())
    delete_unmanaged = draw(st.booleans())
    return first, draw(next_repository(first, delete_unmanaged)), delete_unmanaged


def in_sandbox(body: Any, faults: Faults | None = None, attempts: int = 6) -> None:
    """Run ``body(sandbox)`` against a fresh sandbox in a temporary folder."""

    async def main(folder: Path) -> None:
        sandbox = Sandbox(folder, faults, attempts)
        try:
            await body(sandbox)
        finally:
            await sandbox.aclose()

    with tempfile.TemporaryDirectory(prefix="t4o-property-") as folder:
        asyncio.run(main(Path(folder)))


def _count(label: str, plan_actions: int) -> None:
    event(f"{label}: {'0' if plan_actions == 0 else '1-9' if plan_actions < 10 else '10+'} actions")


@budget(normal=150, slow=2000)
@given(two_repositories())
def test_any_change_converges_in_one_apply(repos: tuple[RepoData, RepoData, bool]) -> None:
    first, second, delete_unmanaged = repos

    async def body(sandbox: Sandbox) -> None:
        await sandbox.converge(first)
        plan = await sandbox.converge(second, delete_unmanaged=delete_unmanaged)
        _count("change", len(flatten(plan)))
        for kind in sorted({f"{a.section} {a.kind}" for a in flatten(plan)}):
            event(f"change: {kind}")
        after = await sandbox.plan(second, delete_unmanaged=delete_unmanaged)
        assert not after.has_errors, describe(after)
        assert flatten(after) == [], "not converged:\n" + describe(after)

    in_sandbox(body)


@budget(normal=50, slow=500)
@given(first_repository())
def test_a_converged_state_plans_no_changes(repo: RepoData) -> None:
    async def body(sandbox: Sandbox) -> None:
        plan = await sandbox.converge(repo)
        _count("create", len(flatten(plan)))
        again = await sandbox.plan(repo)
        assert not again.has_errors, describe(again)
        assert flatten(again) == [], "not converged:\n" + describe(again)
        assert again.unmanaged_tenants == []

    in_sandbox(body)


@budget(normal=50, slow=500)
@given(two_repositories())
def test_applying_again_writes_nothing(repos: tuple[RepoData, RepoData, bool]) -> None:
    first, second, delete_unmanaged = repos

    async def body(sandbox: Sandbox) -> None:
        await sandbox.converge(first)
        await sandbox.converge(second, delete_unmanaged=delete_unmanaged)
        before = state(await sandbox.read())
        audit_before = await audit_lengths(sandbox.inspector, before)
        replanned = await sandbox.plan(second, delete_unmanaged=delete_unmanaged)
        report = await sandbox.apply(replanned)
        assert report.ok and report.actions == [], failures(report)
        assert state(await sandbox.read()) == before
        assert await audit_lengths(sandbox.inspector, before) == audit_before

    in_sandbox(body)


@budget(normal=40, slow=400)
@given(two_repositories(), st.integers(0, 2**32 - 1))
def test_apply_converges_through_faults_without_duplicates(
    repos: tuple[RepoData, RepoData, bool], seed: int
) -> None:
    first, second, delete_unmanaged = repos

    async def plan(sandbox: Sandbox, repo: RepoData) -> Plan:
        # A read that fails every retry is an error the user would simply re-run.
        for _ in range(5):
            try:
                return await sandbox.plan(repo, delete_unmanaged=delete_unmanaged)
            except ApiError:
                continue
        raise AssertionError("five plans in a row failed to read")

    async def until_converged(sandbox: Sandbox, repo: RepoData) -> int:
        """Apply until the plan is empty; the number of applies it took."""
        for applies in range(8):
            planned = await plan(sandbox, repo)
            assert not planned.has_errors, describe(planned)
            if not flatten(planned):
                return applies
            report = await sandbox.apply(planned)
            event(f"faults: an apply {'completed' if report.ok else 'stopped part-way'}")
        raise AssertionError("no convergence after 8 applies:\n" + describe(planned))

    async def body(sandbox: Sandbox) -> None:
        await until_converged(sandbox, first)
        applies = await until_converged(sandbox, second)
        event(f"faults: converged after {applies} apply(s)")
        await assert_no_duplicates(sandbox.inspector)

    # Two attempts per request: enough failures get through for applies to stop part-way.
    in_sandbox(body, Faults(fail_rate=0.2, seed=seed), attempts=2)


@budget(normal=30, slow=300)
@given(two_repositories())
def test_a_saved_plan_read_back_is_fresh_and_converges(
    repos: tuple[RepoData, RepoData, bool],
) -> None:
    """plan --out FILE, then apply --plan FILE: the CLI's path through the plan file."""
    first, second, delete_unmanaged = repos

    async def body(sandbox: Sandbox) -> None:
        await sandbox.converge(first)
        folder, environ = sandbox.write(second)
        options = RunOptions(path=folder, delete_unmanaged=delete_unmanaged, allow_deletes=True)
        request = PlanRequest.fresh(options, digest_key=UNKEYED)
        with environment(environ):
            planned = await plan_configuration(request, sandbox.provider)
            assert not planned.plan.has_errors, describe(planned.plan)
            save_plan(planned.plan, sandbox.folder / "plan.json", key=None)
            saved = load_plan(sandbox.folder / "plan.json", key=None, require_seal=False)
            fresh = await fresh_plan_for_saved(options, sandbox.provider, saved, UNKEYED)
            report = await execute_plan(
                fresh, sandbox.provider, parallelism=4, allow_deletes=True, fail_fast=False
            )
            assert report.ok, failures(report)
            after = await plan_configuration(request, sandbox.provider)
        assert flatten(after.plan) == [], "not converged:\n" + describe(after.plan)

    in_sandbox(body)


def test_a_secret_with_a_trailing_space_is_stored_as_given() -> None:
    """Found by the property: the sandbox trimmed secrets, so their fingerprints never
    matched the client's and every plan showed ``token: (sensitive, changed)``."""
    slug = "ok-skogen"
    repo = RepoData(
        tenants={
            slug: {
                "slug": slug,
                "name": "OK Skogen",
                "organization_number": org_numbers(slug)[0],
                "users": [{"email": owner_of(slug), "name": "Kari", "role": "owner"}],
                "connections": [
                    {
                        "connector": "eventor-norway",
                        "token": {"secret": "env:T4O_SECRET_OK_SKOGEN_EVENTOR"},
                    }
                ],
                "email_account": {
                    "account_name": "Faktura",
                    "display_name": "OK Skogen",
                    "address": "faktura@ok-skogen.no",
                    "username": "faktura",
                    "smtp_host": "smtp.ok-skogen.no",
                    "password": {"secret": "env:T4O_SECRET_OK_SKOGEN_SMTP"},
                },
            }
        },
        agreements=None,
        secrets={
            "T4O_SECRET_OK_SKOGEN_EVENTOR": "tøken ",
            "T4O_SECRET_OK_SKOGEN_SMTP": " pass word ",
        },
    )

    async def body(sandbox: Sandbox) -> None:
        await sandbox.converge(repo)
        again = await sandbox.plan(repo)
        assert flatten(again) == [], describe(again)

    in_sandbox(body)


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Secrets in the environment for the CLI's path (it reads os.environ); restored after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


COLLECTIONS: dict[str, str | tuple[str, ...]] = {
    "users": "email",
    "bank-accounts": "account_number",
    "connections": "connector",
    "email-templates": ("kind", "language"),
}


async def _list(client: ApiClient, path: str) -> list[Any]:
    return [item async for item in client.paginate(path, None, limit=100)]


def _key(item: dict[str, Any], key: str | tuple[str, ...]) -> object:
    return tuple(item[k] for k in key) if isinstance(key, tuple) else item[key]


async def assert_no_duplicates(client: ApiClient) -> None:
    """Each list the API serves holds every key once: no create ran twice."""
    tenants = await _list(client, "/v1/tenants")
    slugs = Counter(t["slug"] for t in tenants)
    assert all(n == 1 for n in slugs.values()), slugs
    agreements = Counter(a["name"] for a in await _list(client, "/v1/agreements"))
    assert all(n == 1 for n in agreements.values()), agreements
    for slug in slugs:
        for collection, key in COLLECTIONS.items():
            items = await _list(client, f"/v1/tenants/{slug}/{collection}")
            keys = Counter(_key(item, key) for item in items)
            assert all(n == 1 for n in keys.values()), (slug, collection, keys)


async def audit_lengths(client: ApiClient, snapshot: dict[str, Any]) -> dict[str, int]:
    # The changes logged; a plan's fingerprint comparison is logged too, and changes nothing.
    return {
        slug: sum(
            1
            for entry in await _list(client, f"/v1/tenants/{slug}/audit-log")
            if entry["action"] != "compare"
        )
        for slug in snapshot["tenants"]
    }
