"""Apply: order, concurrency, failure handling, idempotency keys and the report."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest

from t4o_reconcile.engine.apply import (
    ApplyEvent,
    ApplyReport,
    apply_plan,
    idempotency_key,
)
from t4o_reconcile.engine.plan import (
    AGREEMENTS,
    WHOLE_TENANT,
    Action,
    ActionKind,
    Plan,
    PlanError,
    TenantPlan,
)
from t4o_reconcile.engine.planstore import TenantStore
from t4o_reconcile.engine.provider import ActionResult, ExecutionContext, ProviderTarget
from t4o_reconcile.engine.snapshot import Item, Secret, Snapshot, TenantSnapshot
from t4o_reconcile.errors import ApplyRefused
from tests.engine.builders import flatten


class FakeProvider:
    """A dict-backed provider: applies actions to a Snapshot, remembers idempotency keys
    like the API does, and can be told to fail, answer 412 or wait on a gate."""

    target = "fake://test"
    endpoint = "fake://test"

    @classmethod
    def from_target(cls, target: ProviderTarget) -> FakeProvider:
        return cls()

    async def whoami(self) -> str | None:
        return None

    async def __aenter__(self) -> FakeProvider:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __init__(self, live: Snapshot | None = None) -> None:
        self.live = live or Snapshot(agreements={})
        self.calls: list[tuple[str, ExecutionContext]] = []
        self.fail: dict[str, str] = {}  # address -> message
        self.conflict: set[str] = set()
        self.crash_after_commit: set[str] = set()  # commit, then raise (a dropped answer)
        self.gates: dict[str, asyncio.Event] = {}
        self.seen_keys: dict[str, ActionResult] = {}
        self.in_flight = 0
        self.max_in_flight = 0

    async def read(self, slugs: Iterable[str] | None = None) -> Snapshot:
        return self.live

    async def aclose(self) -> None:
        return None

    def calls_to(self, address: str) -> int:
        return sum(1 for called, _ in self.calls if called == address)

    async def execute(self, action: Action, context: ExecutionContext) -> ActionResult:
        self.calls.append((action.address, context))
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            for _ in range(3):  # let other tasks run, as a network round trip would
                await asyncio.sleep(0)
            if action.address in self.gates:
                await self.gates[action.address].wait()
            if action.kind == "create" and context.idempotency_key in self.seen_keys:
                return self.seen_keys[context.idempotency_key]
            if action.address in self.fail:
                return ActionResult(action.address, "failed", self.fail[action.address])
            if action.address in self.conflict:
                return ActionResult(action.address, "failed", "version mismatch", conflict=True)
            version = self._apply(action)
            result = ActionResult(action.address, "applied", new_version=version)
            if action.kind == "create":
                self.seen_keys[context.idempotency_key] = result
            if action.address in self.crash_after_commit:
                self.crash_after_commit.discard(action.address)
                raise ConnectionError("connection dropped after commit")
            return result
        finally:
            self.in_flight -= 1

    def _apply(self, action: Action) -> str | None:
        if action.tenant is None:
            assert self.live.agreements is not None
            items = self.live.agreements
        elif action.section == WHOLE_TENANT:
            if action.kind == "delete":
                del self.live.tenants[action.tenant]
            else:
                self.live.tenants[action.tenant] = TenantSnapshot(action.tenant)
            return None
        else:
            tenant = self.live.tenants[action.tenant]
            items = tenant.sections.setdefault(action.section, {})
        if action.kind == "delete":
            del items[action.key]
            return None
        current = items.get(action.key)
        if current is None:
            current = items[action.key] = Item({}, "0")
        current.fields.update(action.after or {})
        current.version = str(int(current.version or "0") + 1)
        return current.version


def act(
    tenant: str | None,
    section: str,
    key: str = "",
    kind: ActionKind = "update",
    **after: Any,
) -> Action:
    return Action(
        tenant=tenant,
        section=section,
        key=key,
        kind=kind,
        before=None if kind == "create" else {},
        after=None if kind == "delete" else dict(after),
    )


def tenant_plan(slug: str, *actions: Action, **extra: Any) -> TenantPlan:
    return TenantPlan(slug=slug, actions=list(actions), **extra)


def live_with(*slugs: str, agreements: Iterable[str] = ()) -> Snapshot:
    snapshot = Snapshot(agreements={name: Item({"name": name}, "1") for name in agreements})
    for slug in slugs:
        snapshot.tenants[slug] = TenantSnapshot(
            slug, {"billing": {"": Item({"licenses": 1}, "1")}, "users": {}}
        )
    return snapshot


def run(plan: Plan, provider: FakeProvider, **options: Any) -> ApplyReport:
    options.setdefault("plan_id", "plan-1")
    return asyncio.run(apply_plan(plan, provider, **options))


def outcomes(report: ApplyReport) -> dict[str, str]:
    return {entry.address: entry.outcome for entry in report.actions}


def test_applies_every_action_and_reports_ok() -> None:
    provider = FakeProvider(live_with("ok-skogen", "ok-fjell"))
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan("ok-skogen", act("ok-skogen", "billing", licenses=5)),
                tenant_plan(
                    "ok-fjell",
                    act("ok-fjell", "users", "a@b.no", "create", email="a@b.no", name="A"),
                ),
            ]
        ),
    )

    report = run(plan, provider)

    assert report.ok
    assert report.counts() == {"applied": 2, "failed": 0, "skipped": 0}
    assert provider.live.tenants["ok-skogen"].sections["billing"][""].fields["licenses"] == 5
    assert "a@b.no" in provider.live.tenants["ok-fjell"].sections["users"]
    assert report.summary() == "Apply complete: 2 applied, 0 failed, 0 skipped."


def test_agreement_creates_run_before_tenants_and_deletes_after_them() -> None:
    provider = FakeProvider(live_with("ok-skogen", agreements=["Old"]))
    plan = Plan(
        target="fake://test",
        tenants=TenantStore([tenant_plan("ok-skogen", act("ok-skogen", "agreement", name="New"))]),
        # Listed in the "wrong" order on purpose: apply must still put deletes last.
        agreement_actions=[
            act(None, AGREEMENTS, "Old", "delete"),
            act(None, AGREEMENTS, "New", "create", name="New", customer_number="7"),
        ],
    )

    report = run(plan, provider)

    assert report.ok
    assert [address for address, _ in provider.calls] == [
        'agreements["New"]',
        "ok-skogen.agreement",
        'agreements["Old"]',
    ]
    assert provider.live.agreements is not None
    assert set(provider.live.agreements) == {"New"}


def test_each_tenant_runs_its_actions_in_the_engines_order() -> None:
    actions = [
        act("ok-skogen", "bank_accounts", "1", "delete"),
        act("ok-skogen", "billing", licenses=3),
        act("ok-skogen", "bank_accounts", "2", "create", invoice_account=True),
    ]
    provider = FakeProvider(live_with("ok-skogen"))
    provider.live.tenants["ok-skogen"].sections["bank_accounts"] = {"1": Item({}, "1")}
    plan = Plan("fake://test", tenants=TenantStore([tenant_plan("ok-skogen", *actions)]))

    run(plan, provider)

    called = [address for address, _ in provider.calls]
    assert called == [action.address for action in flatten(plan)]
    # The new invoice account exists before the old one is deleted.
    assert called.index('ok-skogen.bank_accounts["2"]') < called.index(
        'ok-skogen.bank_accounts["1"]'
    )


def test_whole_tenant_deletes_run_after_every_other_tenant_write() -> None:
    provider = FakeProvider(live_with("a-old", "b-1"))
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan("a-old", act("a-old", WHOLE_TENANT, kind="delete")),
                tenant_plan("b-1", act("b-1", "billing", licenses=2)),
            ]
        ),
    )

    report = run(plan, provider, parallelism=4)

    assert report.ok
    assert [address for address, _ in provider.calls] == ["b-1.billing", "a-old"]
    assert set(provider.live.tenants) == {"b-1"}


def test_refuses_a_plan_with_errors_before_any_write() -> None:
    provider = FakeProvider(live_with("ok-skogen"))
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan(
                    "ok-skogen",
                    act("ok-skogen", "billing", licenses=2),
                    errors=[PlanError("ok-skogen.invoicing", "next_invoice_number 5 <= 7")],
                )
            ]
        ),
    )

    with pytest.raises(ApplyRefused) as refused:
        run(plan, provider)

    assert provider.calls == []
    assert "ok-skogen.invoicing: next_invoice_number 5 <= 7" in str(refused.value)
    assert "plan has errors" in str(refused.value)


def test_refuses_deletes_that_need_the_flag_naming_tenant_and_reason() -> None:
    provider = FakeProvider(live_with("ok-skogen"))
    provider.live.tenants["ok-skogen"].sections["users"] = {"x@y.no": Item({}, "1")}
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan(
                    "ok-skogen",
                    act("ok-skogen", "users", "x@y.no", "delete"),
                    deletes_need_flag=["deletes a user (x@y.no)"],
                )
            ]
        ),
    )

    with pytest.raises(ApplyRefused) as refused:
        run(plan, provider)
    assert provider.calls == []
    assert refused.value.reasons == ["ok-skogen: needs --allow-deletes (deletes a user (x@y.no))"]

    assert run(plan, provider, allow_deletes=True).ok
    assert provider.live.tenants["ok-skogen"].sections["users"] == {}


def test_a_failure_stops_that_tenant_and_the_others_carry_on() -> None:
    provider = FakeProvider(live_with("ok-skogen", "ok-fjell", agreements=["Old"]))
    provider.fail["ok-skogen.billing"] = "409 invoice-number-too-low"
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan(
                    "ok-skogen",
                    act("ok-skogen", "billing", licenses=2),
                    act("ok-skogen", "invoicing", enabled=False),
                ),
                tenant_plan("ok-fjell", act("ok-fjell", "billing", licenses=9)),
            ]
        ),
        agreement_actions=[act(None, AGREEMENTS, "Old", "delete")],
    )

    report = run(plan, provider)

    assert not report.ok
    assert outcomes(report) == {
        "ok-skogen.billing": "failed",
        "ok-skogen.invoicing": "skipped",
        "ok-fjell.billing": "applied",
        'agreements["Old"]': "skipped",
    }
    assert provider.calls_to("ok-skogen.invoicing") == 0
    messages = {entry.address: entry.message for entry in report.actions}
    assert messages["ok-skogen.billing"] == "409 invoice-number-too-low"
    assert "ok-skogen.billing did not apply" in messages["ok-skogen.invoicing"]
    assert report.tenant_counts()["ok-fjell"] == {"applied": 1, "failed": 0, "skipped": 0}


def test_fail_fast_skips_what_has_not_started_and_lets_in_flight_work_finish() -> None:
    provider = FakeProvider(live_with("a-1", "b-1", "c-1"))
    provider.fail["a-1.billing"] = "boom"
    # b-1's first write is in flight when a-1 fails; it is released only then.
    gate = provider.gates["b-1.billing"] = asyncio.Event()

    def release_on_failure(event: ApplyEvent) -> None:
        if event.outcome == "failed":
            gate.set()

    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan("a-1", act("a-1", "billing", licenses=1)),
                tenant_plan(
                    "b-1",
                    act("b-1", "billing", licenses=1),
                    act("b-1", "invoicing", enabled=False),
                ),
                tenant_plan("c-1", act("c-1", "billing", licenses=1)),
            ]
        ),
    )

    report = run(plan, provider, parallelism=2, fail_fast=True, on_event=release_on_failure)

    assert outcomes(report) == {
        "a-1.billing": "failed",
        "b-1.billing": "applied",
        "b-1.invoicing": "skipped",
        "c-1.billing": "skipped",
    }
    assert provider.calls_to("c-1.billing") == 0


def test_without_fail_fast_the_same_failure_leaves_other_tenants_running() -> None:
    provider = FakeProvider(live_with("a-1", "b-1"))
    provider.fail["a-1.billing"] = "boom"
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan("a-1", act("a-1", "billing", licenses=1)),
                tenant_plan("b-1", act("b-1", "billing", licenses=1)),
            ]
        ),
    )

    report = run(plan, provider, parallelism=1)

    assert outcomes(report) == {"a-1.billing": "failed", "b-1.billing": "applied"}


def test_a_412_tells_the_user_to_plan_again() -> None:
    provider = FakeProvider(live_with("ok-skogen"))
    provider.conflict.add("ok-skogen.billing")
    plan = Plan(
        "fake://test", tenants=TenantStore([tenant_plan("ok-skogen", act("ok-skogen", "billing"))])
    )

    [entry] = run(plan, provider).actions

    assert entry.outcome == "failed"
    assert "changed since the plan read it" in entry.message
    assert "run plan again" in entry.message


def test_a_failed_agreement_create_skips_the_moves_into_it() -> None:
    provider = FakeProvider(live_with("ok-skogen", "ok-fjell"))
    provider.fail['agreements["New"]'] = "422 invalid customer_number"
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan(
                    "ok-skogen",
                    act("ok-skogen", "agreement", name="New"),
                    act("ok-skogen", "billing", licenses=4),
                ),
                tenant_plan("ok-fjell", act("ok-fjell", "billing", licenses=4)),
            ]
        ),
        agreement_actions=[act(None, AGREEMENTS, "New", "create", name="New")],
    )

    report = run(plan, provider)

    assert outcomes(report) == {
        'agreements["New"]': "failed",
        "ok-skogen.agreement": "skipped",
        "ok-skogen.billing": "skipped",
        "ok-fjell.billing": "applied",
    }
    assert provider.calls_to("ok-skogen.agreement") == 0
    assert 'agreement "New" was not written' in report.actions[1].message


def test_a_provider_exception_fails_only_that_action() -> None:
    provider = FakeProvider(live_with("ok-skogen", "ok-fjell"))
    provider.crash_after_commit.add("ok-skogen.billing")
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan("ok-skogen", act("ok-skogen", "billing", licenses=1)),
                tenant_plan("ok-fjell", act("ok-fjell", "billing", licenses=1)),
            ]
        ),
    )

    report = run(plan, provider)

    assert outcomes(report) == {"ok-skogen.billing": "failed", "ok-fjell.billing": "applied"}
    assert report.actions[0].message == "ConnectionError: connection dropped after commit"


def test_rerunning_a_saved_plan_after_a_dropped_answer_creates_nothing_twice() -> None:
    provider = FakeProvider(live_with("ok-skogen"))
    provider.crash_after_commit.add('ok-skogen.users["new@b.no"]')
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan(
                    "ok-skogen",
                    act("ok-skogen", "users", "new@b.no", "create", email="new@b.no", name="N"),
                )
            ]
        ),
    )

    first = run(plan, provider, plan_id="saved-plan")
    second = run(plan, provider, plan_id="saved-plan")

    assert not first.ok
    assert second.ok
    [(_, first_context), (_, second_context)] = provider.calls
    assert first_context.idempotency_key == second_context.idempotency_key
    # The provider answered the retry from its idempotency record: still version 1.
    assert provider.live.tenants["ok-skogen"].sections["users"]["new@b.no"].version == "1"


def test_idempotency_keys_depend_on_plan_address_and_kind() -> None:
    create = act("ok-skogen", "users", "a@b.no", "create")
    delete = act("ok-skogen", "users", "a@b.no", "delete")
    other = act("ok-skogen", "users", "c@b.no", "create")

    key = idempotency_key("p1", create)

    assert key == idempotency_key("p1", act("ok-skogen", "users", "a@b.no", "create"))
    assert len({key, idempotency_key("p2", create), idempotency_key("p1", delete)}) == 3
    assert key != idempotency_key("p1", other)
    assert len(key) == 64 and int(key, 16) >= 0


def test_versions_learnt_from_earlier_writes_reach_later_actions() -> None:
    provider = FakeProvider(live_with("ok-skogen"))
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan(
                    "ok-skogen",
                    act("ok-skogen", "billing", licenses=1),
                    act("ok-skogen", "invoicing", enabled=False),
                )
            ]
        ),
    )

    run(plan, provider)

    last_context = provider.calls[-1][1]
    assert last_context.versions["ok-skogen.billing"] == "2"


def test_parallelism_bounds_the_tenants_in_flight() -> None:
    slugs = [f"club-{n}" for n in range(6)]
    provider = FakeProvider(live_with(*slugs))
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [tenant_plan(slug, act(slug, "billing", licenses=1)) for slug in slugs]
        ),
    )

    assert run(plan, provider, parallelism=2).ok
    assert provider.max_in_flight == 2

    provider.max_in_flight = 0
    assert run(plan, provider, parallelism=1, plan_id="plan-2").ok
    assert provider.max_in_flight == 1


def test_events_report_progress_per_tenant_and_action() -> None:
    provider = FakeProvider(live_with("ok-skogen", "ok-fjell"))
    provider.fail["ok-fjell.billing"] = "boom"
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan(
                    "ok-skogen", act("ok-skogen", "billing"), act("ok-skogen", "invoicing")
                ),
                tenant_plan("ok-fjell", act("ok-fjell", "billing"), act("ok-fjell", "invoicing")),
            ]
        ),
    )
    events: list[ApplyEvent] = []

    run(plan, provider, on_event=events.append)

    done = [e for e in events if e.kind == "action_done"]
    assert len(done) == 4
    assert sorted(e.done for e in done) == [1, 2, 3, 4]
    assert {e.total for e in events} == {4}
    finished = {e.tenant: e.outcome for e in events if e.kind == "tenant_finished"}
    assert finished == {"ok-skogen": "applied", "ok-fjell": "failed"}
    started = [str(e.tenant) for e in events if e.kind == "tenant_started"]
    assert sorted(started) == ["ok-fjell", "ok-skogen"]


def test_report_document_is_versioned_json_and_never_holds_a_secret() -> None:
    provider = FakeProvider(live_with("ok-skogen"))
    token = Secret("s3cr3t-token-value", "env:T4O_SECRET_OK_SKOGEN_TOKEN")
    address = 'ok-skogen.connections["eventor-norway"]'
    provider.fail[address] = "rejected token s3cr3t-token-value"  # a careless provider
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan(
                    "ok-skogen",
                    act(
                        "ok-skogen",
                        "connections",
                        "eventor-norway",
                        "create",
                        connector="eventor-norway",
                        token=token,
                    ),
                )
            ]
        ),
    )

    document = run(plan, provider).to_dict()
    text = json.dumps(document)

    assert "s3cr3t-token-value" not in text
    assert document["actions"] == [
        {
            "address": address,
            "tenant": "ok-skogen",
            "kind": "create",
            "outcome": "failed",
            "message": "rejected token (sensitive)",
        }
    ]
    assert list(document) == [
        "format_version",
        "target",
        "plan_id",
        "ok",
        "counts",
        "duration_seconds",
        "tenants",
        "actions",
    ]
    assert document["format_version"] == 1
    assert document["ok"] is False
    assert document["counts"] == {"applied": 0, "failed": 1, "skipped": 0}


def test_an_empty_plan_applies_nothing_and_is_ok() -> None:
    provider = FakeProvider(live_with("ok-skogen"))

    report = run(Plan("fake://test", tenants=TenantStore([tenant_plan("ok-skogen")])), provider)

    assert report.ok and report.actions == [] and provider.calls == []


@pytest.mark.parametrize(
    ("options", "expected"),
    [({"parallelism": 0}, "parallelism must be at least 1"), ({"plan_id": ""}, "plan_id")],
)
def test_bad_options_are_rejected_with_a_clear_message(
    options: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValueError, match=expected):
        run(Plan("fake://test"), FakeProvider(), **options)


class ReleasingProvider(FakeProvider):
    """Reads tenant by tenant, so apply tells it when each tenant is done."""

    def __init__(self, live: Snapshot | None = None) -> None:
        super().__init__(live)
        self.log: list[str] = []

    async def execute(self, action: Action, context: ExecutionContext) -> ActionResult:
        self.log.append(f"write {action.address}")
        return await super().execute(action, context)

    async def read_shared(self) -> Snapshot:
        return Snapshot(agreements=self.live.agreements)

    async def read_tenants(
        self, slugs: Iterable[str] | None = None
    ) -> AsyncIterator[TenantSnapshot]:
        for tenant in self.live.tenants.values():
            yield tenant

    def adopt(self, tenant: TenantSnapshot) -> None:
        return None

    def release(self, slug: str) -> None:
        self.log.append(f"release {slug}")


def test_each_tenant_is_released_after_its_last_write_and_its_versions_go() -> None:
    provider = ReleasingProvider(live_with("ok-a", "ok-b"))
    plan = Plan(
        target="fake://test",
        tenants=TenantStore(
            [
                tenant_plan("ok-a", act("ok-a", "billing", licenses=1), act("ok-a", "invoicing")),
                tenant_plan("ok-b", act("ok-b", "billing", licenses=2)),
            ]
        ),
    )
    report = run(plan, provider, parallelism=1)

    assert report.ok
    assert provider.log == [
        "write ok-a.billing",
        "write ok-a.invoicing",
        "release ok-a",
        "write ok-b.billing",
        "release ok-b",
    ]
    # What ok-a's writes taught reached its own later write, not ok-b's.
    assert provider.calls[1][1].versions["ok-a.billing"] == "2"
    assert "ok-a.billing" not in provider.calls[2][1].versions
