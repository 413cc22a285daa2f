"""The command line: parse, call, print, exit code. Nothing else lives here.

Heavy packages (FastAPI, uvicorn, deepdiff, jsonschema) are imported inside the commands
that need them, so ``t4o-reconcile --help`` starts fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from t4o_reconcile import __version__

DEFAULT_PATH = Path("tenants")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="t4o-reconcile")
def main() -> None:
    """Tenant administration as code: validate, plan and apply tenant YAML files."""


@main.command()
@click.argument("path", type=click.Path(path_type=Path), default=DEFAULT_PATH)
def validate(path: Path) -> None:
    """Check the tenant files under PATH (default: tenants/). Exit 0 valid, 1 invalid."""
    from t4o_reconcile.config.loader import load_repository

    result = load_repository(path)
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if result.problems:
        click.echo(
            f"{len(result.problems)} problem(s) in {result.files_with_problems} file(s).", err=True
        )
        sys.exit(1)
    click.echo(f"{result.tenant_count} tenant(s) valid in {path}.")


@main.command()
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("schemas"), show_default=True
)
def schema(out_dir: Path) -> None:
    """(Re)write the JSON Schemas of the YAML files and the API's OpenAPI document."""
    from t4o_reconcile.config.schema import write_schemas
    from t4o_reconcile.sandbox.openapi import write_openapi

    written = [*write_schemas(out_dir), write_openapi(out_dir / "openapi.json")]
    for path in written:
        click.echo(f"wrote {path}")


@main.command()
@click.option("--db", type=click.Path(path_type=Path), default=Path(".t4o/sandbox.db"))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8080, show_default=True)
@click.option("--latency-ms", type=int, envvar="T4O_SANDBOX_LATENCY_MS", default=0)
@click.option("--fail-rate", type=float, envvar="T4O_SANDBOX_FAIL_RATE", default=0.0)
@click.option(
    "--rate-limit",
    type=float,
    envvar="T4O_SANDBOX_RATE_LIMIT",
    default=0.0,
    help="Requests per second per token before 429 (0: no limit).",
)
def serve(
    db: Path, host: str, port: int, latency_ms: int, fail_rate: float, rate_limit: float
) -> None:
    """Run the sandbox API server over an SQLite file."""
    from t4o_reconcile.sandbox.server import serve as run_server

    run_server(
        db=db,
        host=host,
        port=port,
        latency_ms=latency_ms,
        fail_rate=fail_rate,
        rate_limit=rate_limit,
    )


@main.group()
def sandbox() -> None:
    """Administer a sandbox database."""


@sandbox.group()
def token() -> None:
    """API tokens of the sandbox."""


@token.command("create")
@click.option("--db", type=click.Path(path_type=Path), default=Path(".t4o/sandbox.db"))
@click.option("--partner", required=True, help="The partner the token acts for.")
@click.option("--tenant", default=None, help="Restrict the token to one tenant.")
def token_create(db: Path, partner: str, tenant: str | None) -> None:
    """Create a bearer token and print it (once: only its hash is stored)."""
    from t4o_reconcile.sandbox.store import Store

    store = Store(db)
    try:
        click.echo(store.create_token(partner=partner, tenant=tenant))
    finally:
        store.close()
