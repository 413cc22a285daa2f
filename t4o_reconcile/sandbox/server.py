"""``t4o-reconcile serve``: the sandbox under uvicorn."""

from __future__ import annotations

from pathlib import Path

import click

from t4o_reconcile.sandbox.faults import Faults


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
        uvicorn.run(app, host=host, port=port, log_level="warning", backlog=2048)
    finally:
        app.state.store.close()
