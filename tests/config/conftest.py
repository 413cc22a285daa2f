from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from t4o_reconcile.config.desired import agreements_snapshot, tenant_snapshot
from t4o_reconcile.config.loader import LoadResult, load_repository
from t4o_reconcile.config.repository import Repository
from t4o_reconcile.engine.snapshot import Snapshot

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "tenants"

# The secrets the example files reference; dummy values, as the demo exports them.
EXAMPLE_SECRETS = {
    "T4O_SECRET_OK_SKOGEN_EVENTOR_NORWAY_TOKEN": "dummy-eventor-1",
    "T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD": "dummy-smtp-1",
    "T4O_SECRET_OK_SKOGEN_UNGDOM_EVENTOR_NORWAY_TEST_TOKEN": "dummy-eventor-2",
    "T4O_SECRET_OK_SKOGEN_UNGDOM_SMTP_PASSWORD": "dummy-smtp-2",
    "T4O_SECRET_KARTVERKSTEDET_SMTP_PASSWORD": "dummy-smtp-3",
    "T4O_SECRET_IFK_LIDINGO_SOK_EVENTOR_SWEDEN_TOKEN": "dummy-eventor-3",
    "T4O_SECRET_IFK_LIDINGO_SOK_SMTP_PASSWORD": "dummy-smtp-4",
    "T4O_SECRET_IL_FJELLREV_PERSONAL_NUMBER": "15037810034",
}

# A valid tenant's first three lines; what a test adds starts on line 4.
HEAD = 'slug: club\nname: Club\norganization_number: "914820332"\n'


@pytest.fixture
def example_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name, value in EXAMPLE_SECRETS.items():
        monkeypatch.setenv(name, value)
    return EXAMPLE_SECRETS


Loader = Callable[[dict[str, str | bytes]], LoadResult]


@pytest.fixture
def load_files(tmp_path: Path) -> Loader:
    """Write the given files into a fresh directory and load it."""

    def load(files: dict[str, str | bytes]) -> LoadResult:
        for name, content in files.items():
            path = tmp_path / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return load_repository(tmp_path, environ={"T4O_SECRET_CLUB_TOKEN": "s3cr3t-club-token"})

    return load


def desired_of(repository: Repository | None) -> Snapshot:
    """The snapshot plan makes of a repository (``workflow.load_desired``, which loads with
    the process's own environment), from one the test loaded with its own."""
    assert repository is not None
    tenants = {slug: tenant_snapshot(entry) for slug, entry in repository.tenants.items()}
    return Snapshot(tenants=tenants, agreements=agreements_snapshot(repository))
