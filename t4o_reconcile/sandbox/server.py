"""``t4o-reconcile serve``: the sandbox under uvicorn."""

from __future__ import annotations

import socket
from pathlib import Path

import click

from t4o_reconcile.errors import UsageError
from t4o_reconcile.sandbox.faults import Faults


def _listen(host: str, port: int) -> socket.socket:
    """Bind before saying anything: a busy port is one error line, not a banner that
    promises a server followed by uvicorn's own exit code."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise UsageError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}"
            " (another server there? choose another --port)"
        ) from None
    return sock


def serve(
    db: Path,
    host: str,
    port: int,
    latency_ms: int,
    fail_rate: float,
    rate_limit: float,
    timeout_rate: float = 0.0,
    timeout_ms: int = 5000,
) -> None:
    import uvicorn

    from t4o_reconcile.sandbox.app import create_app

    sock = _listen(host, port)

    faults = Faults(
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        rate_limit=rate_limit,
        timeout_rate=timeout_rate,
        timeout_ms=timeout_ms,
    )
    app = create_app(db, faults)
    url = f"http://{host}:{port}"
    click.echo(f"t4o sandbox API on {url}/v1 (database {db}; OpenAPI at {url}/docs)", err=True)
    click.echo(
        "Create a token with: t4o-reconcile sandbox token create"
        f" --db {db} --partner NAME [--tenant SLUG]",
        err=True,
    )
    if faults.active:
        click.echo(
            f"Faults: latency {latency_ms} ms, fail rate {fail_rate:g},"
            f" rate limit {rate_limit:g}/s per token,"
            f" time-outs {timeout_rate:g} after {timeout_ms} ms",
            err=True,
        )
    try:
        # Many keep-alive clients at once (benchmarks, concurrent apply); the sync
        # endpoints run in the thread pool and SQLite writes serialise in the store.
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning", backlog=2048))
        server.run(sockets=[sock])
    finally:
        sock.close()
        app.state.store.close()
