"""The tenant files loaded in a child process, each tenant's snapshot sent back as it loads.

A plan of many tenants is CPU-bound on both of its sides: the files (validation and the
desired snapshot, about 2 ms a tenant) and the live side (the read, the comparisons and
the diff). In a thread beside the event loop they take turns on one core (the GIL); in
a child process each has a core, and a no-change plan of 1,000 tenants takes about as
long as its slower side instead of both.

The child is forked by a fork server (spawned where there is none), never from this
process, whose threads make a fork unsafe. It is given what the load depends on — the
working directory, the environment (the secrets' values, the parse cache's settings),
the path, the secret policy and the scope — rather than whatever the fork server
started with, and sends back, over a pipe between the two processes only, the tenants'
snapshots in chunks, then the repository (without the agreements' models: the plan reads
the agreements as the desired snapshot's) and the agreements' snapshot, or the load's
error. A load
of fewer than ``FROM`` tenant files stays in a thread: a child's start-up is a fraction
of a second, and a scoped plan never pays it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from t4o_reconcile.errors import ConfigError, ConfigInvalid

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from t4o_reconcile.config.repository import Repository
    from t4o_reconcile.config.secret_refs import SecretPolicy
    from t4o_reconcile.engine.snapshot import Snapshot, TenantSnapshot

# Tenant files from which the load runs in a child process.
FROM = 200
# Snapshots a message: one message per tenant would cost more than its pickling.
CHUNK = 32
# Set (to anything) in the environment: every load stays in this process.
IN_PROCESS = "T4O_LOAD_IN_PROCESS"
# What the child runs, imported once in the fork server (each child is forked with them).
_PRELOAD = (
    "t4o_reconcile.loading_child",
    "t4o_reconcile.workflow",
    "t4o_reconcile.config.loader",
    "t4o_reconcile.config.desired",
)


def get_ready(path: Path) -> None:
    """Start the fork server now when the files under ``path`` will load in a child (a
    whole repository of ``FROM`` files or more): it starts Python and imports what the load
    needs beside this process's own start-up, not after it. Nothing else happens early:
    the load itself still starts when the plan asks for it."""
    if _worth_a_process(path, None):
        _context()
        from multiprocessing import forkserver

        forkserver.ensure_running()


def load_desired_aside(
    path: Path,
    policy: SecretPolicy | None,
    on_tenant: Callable[[TenantSnapshot], None],
    *,
    only: frozenset[str] | None = None,
) -> tuple[Repository, Snapshot]:
    """``workflow.load_desired``, in a child process when there are many files to load
    and more than one core: each tenant's snapshot is handed to ``on_tenant`` (in the
    calling thread) as it arrives."""
    from t4o_reconcile.workflow import load_desired

    if not _worth_a_process(path, only):
        return load_desired(path, policy, on_tenant, only=only)
    context = _context()
    receiving, sending = context.Pipe(duplex=False)
    child = context.Process(
        target=_load_and_send,
        args=(sending, os.getcwd(), dict(os.environ), path, policy, only),
        name="t4o-load",
        # Not a daemon: a daemon may not start processes, and a cold load parses in a
        # pool of workers. It is stopped below, whatever happens.
        daemon=False,
    )
    child.start()
    sending.close()
    try:
        while True:
            try:
                kind, payload = receiving.recv()
            except EOFError:
                child.join(5)
                raise ConfigError(
                    f"{path}: the process loading the tenant files ended without an answer"
                    f" (exit code {child.exitcode})"
                ) from None
            if kind == "tenants":
                for tenant in payload:
                    on_tenant(tenant)
            elif kind == "done":
                repository, desired = payload
                return repository, desired
            elif kind == "invalid":
                raise ConfigInvalid(payload)
            else:
                raise payload
    finally:
        receiving.close()
        if child.is_alive():
            child.terminate()  # the plan was abandoned: nothing more is wanted
        child.join()


def _worth_a_process(path: Path, only: frozenset[str] | None) -> bool:
    if os.environ.get(IN_PROCESS) or (os.cpu_count() or 1) < 2:
        return False
    if only is not None:
        return len(only) >= FROM
    try:
        with os.scandir(path) as entries:
            return sum(1 for _ in entries) >= FROM
    except OSError:
        return False  # the load in this process says what is wrong


def _context() -> Any:
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        # Read once the server starts: a server started before (by the loader's parse
        # workers) keeps its own, which imports what the child needs on first use.
        context.set_forkserver_preload(list(_PRELOAD))
        return context
    return multiprocessing.get_context("spawn")


def _load_and_send(
    sending: Connection,
    cwd: str,
    environ: dict[str, str],
    path: Path,
    policy: SecretPolicy | None,
    only: frozenset[str] | None,
) -> None:
    """In the child: the caller's world, the load, and what it made sent back."""
    from t4o_reconcile.workflow import load_desired

    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(environ)
    chunk: list[TenantSnapshot] = []

    def on_tenant(tenant: TenantSnapshot) -> None:
        chunk.append(tenant)
        if len(chunk) >= CHUNK:
            sending.send(("tenants", chunk))
            chunk.clear()

    try:
        try:
            made = load_desired(path, policy, on_tenant, only=only)
        except ConfigInvalid as invalid:
            # An exception is pickled by its arguments: this one's are its message.
            sending.send(("invalid", invalid.problems))
            return
        except Exception as error:
            try:
                sending.send(("failed", error))
            except Exception:  # an error that cannot be pickled: its words are enough
                sending.send(("failed", ConfigError(f"{type(error).__name__}: {error}")))
            return
        if chunk:
            sending.send(("tenants", chunk))
        repository, desired = made
        # The agreements' models stay here: the plan reads them as the desired snapshot's
        # agreements, and without them it never imports pydantic (a quarter of a second).
        agreements: list[Any] | None = None if repository.agreements is None else []
        sending.send(("done", (dataclasses.replace(repository, agreements=agreements), desired)))
    finally:
        sending.close()
