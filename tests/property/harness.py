"""A fresh in-process sandbox per example, and plan/apply through the real parts.

The path is the CLI's (see ``workflow``): tenant files → ``load_repository`` →
``desired.tenant_snapshot`` → ``HttpProvider.read`` → ``make_plan`` → ``apply_plan``, with the
sandbox app under ``httpx.ASGITransport`` instead of a socket.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from t4o_reconcile.api.client import ApiClient, RetryPolicy
from t4o_reconcile.api.http_provider import HttpProvider
from t4o_reconcile.config.loader import load_repository
from t4o_reconcile.engine.apply import ApplyReport, apply_plan
from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.snapshot import Snapshot
from t4o_reconcile.render.text import render_text
from t4o_reconcile.sandbox.app import create_app
from t4o_reconcile.sandbox.faults import FaultMiddleware, Faults
from t4o_reconcile.sandbox.store import Store
from t4o_reconcile.workflow import compare_secrets
from tests.config.conftest import desired_of
from tests.property.generators import RepoData, write_repository

_APP: list[FastAPI] = []


def _app_over(store: Store) -> FastAPI:
    """The sandbox app over ``store``. Building the FastAPI app takes longer than a whole
    example, so one app serves them all, each example with its own fresh database."""
    if not _APP:
        with tempfile.TemporaryDirectory() as folder:
            app = create_app(Path(folder) / "unused.sqlite")
            app.state.store.close()
        _APP.append(app)
    _APP[0].state.store = store
    return _APP[0]


async def _no_sleep(seconds: float) -> None:
    return None


class Sandbox:
    """One sandbox database with a partner token, spoken to as apply does."""

    def __init__(self, folder: Path, faults: Faults | None = None, attempts: int = 6) -> None:
        self.folder = folder
        self.store = Store(folder / "sandbox.sqlite")
        token = self.store.create_token(partner="property")
        app = _app_over(self.store)
        asgi: Any = app if faults is None else FaultMiddleware(app, faults)
        client = ApiClient(
            "http://sandbox.test",
            token,
            transport=httpx.ASGITransport(app=asgi),
            retry=RetryPolicy(attempts=attempts),
            sleep=_no_sleep,
        )
        self.provider = HttpProvider(client, target="sandbox")
        # Checks look at the result through the app itself, past the injected faults.
        self.inspector = ApiClient(
            "http://sandbox.test", token, transport=httpx.ASGITransport(app=app)
        )
        self._configs = 0

    async def aclose(self) -> None:
        await self.provider.aclose()
        await self.inspector.aclose()
        self.store.close()

    def write(self, repo: RepoData) -> tuple[Path, dict[str, str]]:
        self._configs += 1
        return write_repository(repo, self.folder / f"config-{self._configs}"), repo.secrets

    async def plan(self, repo: RepoData, *, delete_unmanaged: bool = False) -> Plan:
        folder, environ = self.write(repo)
        loaded = load_repository(folder, environ=environ)
        assert loaded.repository is not None, "generated config is invalid:\n" + "\n".join(
            str(p) for p in loaded.problems
        )
        desired = desired_of(loaded.repository)
        live = await self.provider.read()
        # As plan does: only the API can say whether a desired secret is the stored one.
        await compare_secrets(self.provider, desired, live)
        return make_plan(
            desired,
            live,
            target=self.provider.target,
            delete_unmanaged=delete_unmanaged,
        )

    async def apply(self, plan: Plan) -> ApplyReport:
        return await apply_plan(
            plan, self.provider, allow_deletes=True, plan_id=uuid.uuid4().hex, parallelism=4
        )

    async def read(self) -> Snapshot:
        return await self.provider.read()

    async def converge(self, repo: RepoData, *, delete_unmanaged: bool = False) -> Plan:
        """Plan and apply ``repo``; the plan must be clean and the apply complete."""
        plan = await self.plan(repo, delete_unmanaged=delete_unmanaged)
        assert not plan.has_errors, describe(plan)
        report = await self.apply(plan)
        assert report.ok, describe(plan) + "\n" + failures(report)
        return plan


def describe(plan: Plan) -> str:
    return render_text(plan, color=False)


def failures(report: ApplyReport) -> str:
    return "\n".join(f"{o.address} {o.kind}: {o.outcome} {o.message}" for o in report.actions)


def state(snapshot: Snapshot) -> dict[str, object]:
    """Everything a read shows, versions included, as comparable plain data."""
    tenants = {
        slug: {
            section: {key: (item.fields, item.version) for key, item in items.items()}
            for section, items in tenant.sections.items()
        }
        for slug, tenant in snapshot.tenants.items()
    }
    agreements = {
        name: (item.fields, item.version) for name, item in (snapshot.agreements or {}).items()
    }
    return {"tenants": tenants, "agreements": agreements}
