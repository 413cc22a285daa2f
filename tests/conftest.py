"""Suite-wide options: ``--slow`` runs the bigger hypothesis profile and the tests
marked ``slow``; without it the default profile runs and those tests are skipped."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "slow",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.fixture(autouse=True)
def _a_workstation(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The suite runs under CI=true, where plan and apply refuse to fall back to the
    embedded sandbox; tests are a workstation unless they set CI themselves. Their parse
    cache (on for a workstation) is the session's own, never the user's."""
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("T4O_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "parse-cache"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--slow",
        action="store_true",
        default=False,
        help="run the bigger hypothesis profile (e.g. 2,000 convergence cases) and slow tests",
    )


def pytest_configure(config: pytest.Config) -> None:
    settings.load_profile("slow" if config.getoption("--slow") else "default")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--slow"):
        return
    skip = pytest.mark.skip(reason="a bigger run: use --slow")
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(skip)
