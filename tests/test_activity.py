"""A provider without the optional log capabilities: no logs, no attribution, one error."""

from __future__ import annotations

import asyncio
from typing import cast

import pytest

from t4o_reconcile.activity import KeepsHistory, KeepsLogs, attribute_drift, read_logs
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.provider import Provider
from t4o_reconcile.engine.snapshot import Snapshot
from t4o_reconcile.errors import WorkflowError


class _Bare:
    target = "https://api.example.com"


def test_a_provider_without_logs_is_one_error() -> None:
    provider = cast(Provider, _Bare())
    assert not isinstance(provider, KeepsLogs)
    with pytest.raises(WorkflowError, match="keeps no audit or distribution log"):
        asyncio.run(read_logs(provider, "ok-skogen"))


def test_a_provider_without_history_attributes_nothing() -> None:
    provider = cast(Provider, _Bare())
    assert not isinstance(provider, KeepsHistory)
    assert asyncio.run(attribute_drift(cast(Plan, None), provider, cast(Snapshot, None))) == 0
