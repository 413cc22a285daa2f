"""The files loaded in a child process (loading_child.py): what comes back is what a load
here makes, with the caller's working directory and environment at the time of the call,
the files' errors come back whole, and an abandoned load leaves no process behind."""

from __future__ import annotations

import multiprocessing
import os
import shutil
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from t4o_reconcile import loading_child
from t4o_reconcile.engine.snapshot import Secret, TenantSnapshot
from t4o_reconcile.errors import ConfigError, ConfigInvalid
from t4o_reconcile.loading_child import load_desired_aside
from t4o_reconcile.workflow import load_desired
from tests.config.conftest import EXAMPLES

pytestmark = pytest.mark.usefixtures("example_env")


@pytest.fixture
def tenants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the examples, named relative to the working directory (as a user names
    it: every problem and origin keeps that name); a child for any number of files."""
    shutil.copytree(EXAMPLES, tmp_path / "tenants")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(loading_child, "FROM", 1)
    monkeypatch.delenv(loading_child.IN_PROCESS, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)  # a machine of one core loads here
    return Path("tenants")


def aside(path: Path) -> tuple[list[TenantSnapshot], Any, set[str]]:
    """What the child sends, and the names of the processes running while it did."""
    seen: list[TenantSnapshot] = []
    running: set[str] = set()

    def on_tenant(tenant: TenantSnapshot) -> None:
        seen.append(tenant)
        running.update(child.name for child in multiprocessing.active_children())

    return seen, load_desired_aside(path, None, on_tenant), running


def test_a_child_loads_what_a_load_here_loads(tenants: Path) -> None:
    here: list[TenantSnapshot] = []
    repository_here, desired_here = load_desired(tenants, None, here.append)

    seen, (repository, desired), running = aside(tenants)

    assert "t4o-load" in running
    assert seen == here and len(seen) == 6
    assert desired == desired_here
    assert repository.warnings == repository_here.warnings
    assert all(not Path(w.file).is_absolute() for w in repository.warnings)
    assert repository.slugs == repository_here.slugs
    # The agreements come back as the desired snapshot's, their models stay in the child.
    assert desired.agreements and repository.agreements == [] != repository_here.agreements


def test_the_child_has_the_environment_of_the_call_not_of_its_fork_server(
    tenants: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    aside(tenants)  # the fork server runs from here on, with the environment it had
    monkeypatch.setenv("T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD", "changed-since")

    seen, _, _ = aside(tenants)

    (skogen,) = [tenant for tenant in seen if tenant.slug == "ok-skogen"]
    password = skogen.sections["email_account"][""].fields["password"]
    assert isinstance(password, Secret) and password.value == "changed-since"


def test_the_files_errors_come_back_whole(tenants: Path) -> None:
    (tenants / "ok-skogen.yaml").write_text("slug: ok-skogen\nname: [unclosed\n")
    with pytest.raises(ConfigInvalid) as here:
        load_desired(tenants, None, lambda tenant: None)

    with pytest.raises(ConfigInvalid) as there:
        aside(tenants)

    assert there.value.problems == here.value.problems
    broken = [p for p in there.value.problems if p.is_error]
    assert [p.file for p in broken] == [os.path.join("tenants", "ok-skogen.yaml")]


def test_an_abandoned_load_leaves_no_process_behind(tenants: Path) -> None:
    def on_tenant(tenant: TenantSnapshot) -> None:
        raise RuntimeError("the plan stopped")

    with pytest.raises(RuntimeError, match="the plan stopped"):
        load_desired_aside(tenants, None, on_tenant)

    assert not [c for c in multiprocessing.active_children() if c.name == "t4o-load"]


def test_a_few_files_load_here(tenants: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loading_child, "FROM", 200)
    seen, _, running = aside(tenants)
    assert len(seen) == 6 and "t4o-load" not in running

    monkeypatch.setattr(loading_child, "FROM", 1)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    seen, _, running = aside(tenants)
    assert len(seen) == 6 and "t4o-load" not in running

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setenv(loading_child.IN_PROCESS, "1")
    seen, _, running = aside(tenants)
    assert len(seen) == 6 and "t4o-load" not in running


def test_an_error_that_cannot_be_sent_is_sent_as_its_words(
    tenants: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Unpicklable(Exception):
        def __init__(self) -> None:
            super().__init__("the load broke")
            self.handle = lambda: None  # a lambda cannot be pickled

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise Unpicklable()

    monkeypatch.setattr("t4o_reconcile.workflow.load_desired", broken)
    receiving, sending = multiprocessing.Pipe(duplex=False)
    loading_child._load_and_send(sending, os.getcwd(), dict(os.environ), tenants, None, None)

    kind, error = receive(receiving)
    assert kind == "failed" and isinstance(error, ConfigError)
    assert str(error) == "Unpicklable: the load broke"


def receive(connection: Connection) -> Any:
    return connection.recv()


def _ends_at_once(sending: Connection, *args: Any) -> None:
    os._exit(3)  # as a child killed by the kernel would: no answer, no clean-up


def test_a_child_that_dies_without_an_answer_is_one_error(
    tenants: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loading_child, "_load_and_send", _ends_at_once)

    with pytest.raises(ConfigError) as raised:
        aside(tenants)

    assert str(raised.value) == (
        "tenants: the process loading the tenant files ended without an answer (exit code 3)"
    )
