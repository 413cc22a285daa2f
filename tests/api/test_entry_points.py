"""Providers are found through the ``t4o_reconcile.providers`` entry point group."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from t4o_reconcile.api import entry_points
from t4o_reconcile.api.http_provider import HttpProvider
from t4o_reconcile.engine.provider import ProviderTarget
from t4o_reconcile.errors import TargetError
from t4o_reconcile.workflow import RunOptions, open_provider


def test_the_default_provider_is_the_http_provider() -> None:
    assert entry_points.load_provider() is HttpProvider
    assert entry_points.load_provider("t4o") is HttpProvider


def test_a_provider_registered_by_another_package_is_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = EntryPoint(
        name="vendor", value=f"{__name__}:RecordingProvider", group=entry_points.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(entry_points, "_registered", lambda: {"vendor": other})

    loaded: object = entry_points.load_provider("vendor")
    assert loaded is RecordingProvider


def test_a_class_without_from_target_is_not_a_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    other = EntryPoint(
        name="vendor", value="collections:OrderedDict", group=entry_points.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(entry_points, "_registered", lambda: {"vendor": other})
    with pytest.raises(
        LookupError, match=r"'vendor' \(collections:OrderedDict\) has no from_target"
    ):
        entry_points.load_provider("vendor")


def test_an_unknown_provider_names_the_known_ones() -> None:
    with pytest.raises(LookupError, match=r"unknown provider 'nope'; known providers: .*t4o"):
        entry_points.load_provider("nope")


def test_from_target_builds_a_remote_provider_named_without_its_token() -> None:
    from t4o_reconcile.api.target import Target
    from tests.api.aio import run

    token = "t4o_0123456789ab_verysecretvalueWXYZ"
    provider = HttpProvider.from_target(
        Target(url="https://api.example.com", token=token).for_provider(3)
    )
    assert provider.target == "https://api.example.com"  # no part of the token
    assert provider.client.parallelism == 3
    run(provider.aclose())


class RecordingProvider:
    """A stand-in for a vendor's adapter: records how the workflow built it."""

    built: ProviderTarget | None = None

    @classmethod
    def from_target(cls, target: ProviderTarget) -> RecordingProvider:
        cls.built = target
        return cls()


def test_the_workflow_builds_the_provider_named_on_the_command_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    vendor = EntryPoint(
        name="vendor", value=f"{__name__}:RecordingProvider", group=entry_points.ENTRY_POINT_GROUP
    )
    monkeypatch.setattr(entry_points, "_registered", lambda: {"vendor": vendor})

    built = open_provider(
        RunOptions(path=tmp_path, provider="vendor", parallelism=3, db_path=tmp_path / "db")
    )

    assert isinstance(built, RecordingProvider)
    assert RecordingProvider.built is not None
    assert RecordingProvider.built.parallelism == 3
    # Provider-neutral: the URL, no class of the t4o provider's own.
    assert type(RecordingProvider.built) is ProviderTarget
    assert RecordingProvider.built.url is None and RecordingProvider.built.local_state is not None


def test_an_unknown_provider_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"unknown provider 'nope'; known providers: .*t4o"):
        open_provider(RunOptions(path=tmp_path, provider="nope", db_path=tmp_path / "db"))


def test_async_with_closes_the_provider_however_the_block_ends() -> None:
    from t4o_reconcile.api.target import Target
    from tests.api.aio import run

    target = Target(url="https://api.example.com", token="t4o_0123456789ab_secretWXYZ")

    async def main() -> HttpProvider:
        provider = HttpProvider.from_target(target.for_provider(2))
        with pytest.raises(RuntimeError, match="inside"):
            async with provider as entered:
                assert entered is provider
                raise RuntimeError("inside")
        return provider

    assert run(main()).client._http.is_closed
