"""The command line: parse, call, print, exit code. Nothing else lives here.

Heavy packages (FastAPI, uvicorn) are imported inside the commands that need them, so
``t4o-reconcile --help`` starts fast.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from t4o_reconcile import __version__
from t4o_reconcile.api.target import DEFAULT_DEADLINE, DEFAULT_TIMEOUT
from t4o_reconcile.errors import (
    ApiError,
    ApplyRefused,
    ConfigInvalid,
    NoAnswer,
    T4oError,
    UnexpectedAnswer,
    UsageError,
    WorkflowError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from t4o_reconcile.api.target import Target
    from t4o_reconcile.config.problems import Problem
    from t4o_reconcile.config.secret_refs import SecretPolicy
    from t4o_reconcile.engine.plan import Plan
    from t4o_reconcile.engine.provider import Provider
    from t4o_reconcile.render.approval import Approval
    from t4o_reconcile.workflow import Planned, Progress, RunOptions

T = TypeVar("T")

DEFAULT_PATH = Path("tenants")


class _Cli(click.Group):
    """The command group, with the one place where expected failures become exit 1.

    Every error a user can cause is a ``T4oError`` (see ``errors``) or a usage error of
    click; both print one line and exit 1, so that with ``--detailed-exitcode`` exit 2
    only ever means "there are changes". ``--log-level debug`` adds the traceback.
    """

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            exc.show()
            sys.exit(1)
        except T4oError as exc:
            _report(exc)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _report(exc: T4oError) -> None:
    """The one error, escaped: messages quote files, plan files and answers
    (``render.escape``; only the line breaks of a message's own list are kept)."""
    from t4o_reconcile.render.escape import terminal, terminal_lines, terminal_message

    if logging.getLogger().isEnabledFor(logging.DEBUG):
        import traceback

        click.echo(terminal_lines("".join(traceback.format_exception(exc)).rstrip()), err=True)
    if isinstance(exc, ConfigInvalid):
        if not exc.shown:
            _echo_problems(exc.problems)
        click.echo(f"Error: {exc}; nothing was planned or applied.", err=True)
    elif isinstance(exc, ApplyRefused):
        click.echo("Error: apply refused, nothing was written:", err=True)
        for reason in exc.reasons:
            click.echo(f"  - {terminal(reason)}", err=True)
    elif isinstance(exc, ApiError) and not isinstance(exc, NoAnswer | UnexpectedAnswer):
        click.echo(f"Error: the API answered: {terminal(str(exc))}", err=True)
    else:
        click.echo(f"Error: {terminal_message(str(exc))}", err=True)


def _echo_problems(problems: Iterable[Problem]) -> None:
    """Problems as validate's text lines on stderr, escaped (``render.findings``)."""
    from t4o_reconcile.render.findings import from_problems, render

    click.echo(render(from_problems(problems), "text"), err=True, nl=False)


class _EscapingFormatter(logging.Formatter):
    """Log records quote requests and answers: the message on one line through
    ``escape.terminal``, a traceback line by line."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        from t4o_reconcile.render.escape import terminal

        record.message = terminal(record.message)
        return super().formatMessage(record)

    def formatException(self, ei: Any) -> str:
        from t4o_reconcile.render.escape import terminal_lines

        return terminal_lines(super().formatException(ei))


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="t4o-reconcile")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    envvar="T4O_LOG_LEVEL",
    default="warning",
    show_default=True,
    help="Logs go to stderr (requests and retries at debug/info).",
)
def main(log_level: str) -> None:
    """Tenant administration as code: validate, plan and apply tenant YAML files."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_EscapingFormatter("%(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=log_level.upper(), handlers=[handler])


PROBLEM_FORMATS = ("text", "json", "github", "sarif")


def _secret_options(func: Callable[..., None]) -> Callable[..., None]:
    func = click.option(
        "--secret-env-prefix",
        default=None,
        metavar="PREFIX",
        help="env: secret references must name a variable starting with PREFIX"
        " (or T4O_SECRET_ENV_PREFIX; default T4O_SECRET_).",
    )(func)
    func = click.option(
        "--secrets-dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="file: secret references resolve inside this directory (or T4O_SECRETS_DIR).",
    )(func)
    return func


def _policy(kwargs: dict[str, Any], *, read_values: bool) -> SecretPolicy:
    from t4o_reconcile.config.secret_refs import SecretPolicy

    return SecretPolicy.from_settings(
        env_prefix=kwargs.get("secret_env_prefix"),
        secrets_dir=kwargs.get("secrets_dir"),
        read_values=read_values,
    )


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(PROBLEM_FORMATS),
    default="text",
    show_default=True,
    help="text: file:line:col lines on stderr; json, github (workflow commands) and sarif"
    " (SARIF 2.1.0) on stdout.",
)
@click.option("--strict", is_flag=True, help="Warnings fail too (exit 1).")
@click.option(
    "--resolve-secrets",
    is_flag=True,
    help="Also read every secret value (else only the references are checked).",
)
@_secret_options
def validate(
    paths: tuple[Path, ...], fmt: str, strict: bool, resolve_secrets: bool, **kwargs: Any
) -> None:
    """Check tenant files: directories (default: tenants/) whole, or single files within
    the repository of their directory. Exit 0 valid, 1 invalid.

    Warnings are printed but leave the exit code 0 unless --strict is given. Secret
    references are checked against the policy (prefix, secrets directory) without reading
    any value, unless --resolve-secrets is given."""
    from t4o_reconcile.config.validate import validate_paths
    from t4o_reconcile.render.findings import from_problems, render
    from t4o_reconcile.workflow import gc_paused

    policy = _policy(kwargs, read_values=resolve_secrets)
    with gc_paused():
        result = validate_paths(list(paths) or [DEFAULT_PATH], policy=policy)
    findings = from_problems(result.problems)
    if fmt == "text":
        click.echo(render(findings, fmt), err=True, nl=False)
    else:
        click.echo(render(findings, fmt), nl=False)
    errors = len(result.errors)
    warnings = len(result.problems) - errors
    if errors:
        also = f" and {warnings} warning(s)" if warnings else ""
        click.echo(f"{errors} problem(s) in {result.files_with_problems} file(s){also}.", err=True)
        sys.exit(1)
    if warnings:
        click.echo(f"{warnings} warning(s).", err=True)
        if strict:
            click.echo("Warnings fail with --strict.", err=True)
            sys.exit(1)
    where = ", ".join(str(p) for p in paths) or str(DEFAULT_PATH)
    click.echo(f"{result.tenant_count} tenant(s) valid in {where}.", err=fmt != "text")


@main.command()
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=Path("schemas"), show_default=True
)
def schema(out_dir: Path) -> None:
    """(Re)write the JSON Schemas of the YAML files and the plan, and the API's OpenAPI."""
    import json

    from t4o_reconcile.config.schema import write_schemas
    from t4o_reconcile.engine.plan_schema import plan_schema
    from t4o_reconcile.sandbox.openapi import write_openapi

    out_dir.mkdir(parents=True, exist_ok=True)
    plan_path = out_dir / "plan.schema.json"
    plan_path.write_text(json.dumps(plan_schema(), indent=2, ensure_ascii=False) + "\n")
    written = [*write_schemas(out_dir), plan_path, write_openapi(out_dir / "openapi.json")]
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
@click.option(
    "--timeout-rate",
    type=click.FloatRange(0, 1),
    envvar="T4O_SANDBOX_TIMEOUT_RATE",
    default=0.0,
    help="Share of requests that hang for --timeout-ms, are not run, then answer 504.",
)
@click.option("--timeout-ms", type=int, envvar="T4O_SANDBOX_TIMEOUT_MS", default=5000)
def serve(
    db: Path,
    host: str,
    port: int,
    latency_ms: int,
    fail_rate: float,
    rate_limit: float,
    timeout_rate: float,
    timeout_ms: int,
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
        timeout_rate=timeout_rate,
        timeout_ms=timeout_ms,
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
@click.option(
    "--read-only",
    is_flag=True,
    help="A token that can only read (every write answers 403): for pull-request plans.",
)
@click.option(
    "--name",
    default=None,
    help="Who holds the token (a person or a job, e.g. ci-apply): the audit and"
    " distribution logs name it beside the partner.",
)
def token_create(
    db: Path, partner: str, tenant: str | None, read_only: bool, name: str | None
) -> None:
    """Create a bearer token and print it (once: only its hash is stored)."""
    from t4o_reconcile.sandbox.store import Store, check_token_name

    if not partner.strip():
        raise click.BadParameter("expected a non-empty partner name", param_hint="--partner")
    if name is not None:
        try:
            check_token_name(name)
        except ValueError as exc:
            raise click.BadParameter(str(exc).removeprefix("name: "), param_hint="--name") from None
    store = Store(db)
    try:
        click.echo(
            store.create_token(partner=partner, tenant=tenant, read_only=read_only, name=name)
        )
    finally:
        store.close()


def _api_options(func: Callable[..., None]) -> Callable[..., None]:
    func = click.option(
        "--api",
        "api",
        default=None,
        help="API base URL (or T4O_API_URL). Default: embedded sandbox.",
    )(func)
    func = click.option(
        "--insecure", is_flag=True, help="Allow plain http:// to a host that is not loopback."
    )(func)
    func = click.option("--parallelism", type=click.IntRange(1, 64), default=8, show_default=True)(
        func
    )
    func = click.option(
        "--rate-limit",
        "client_rate_limit",
        type=click.FloatRange(min=0, min_open=True),
        envvar="T4O_RATE_LIMIT",
        default=None,
        help="Send at most R requests per second (or T4O_RATE_LIMIT). Default: the rate the"
        " API announces in its RateLimit headers.",
    )(func)
    func = click.option(
        "--deadline",
        type=click.FloatRange(min=0, min_open=True),
        envvar="T4O_DEADLINE",
        default=DEFAULT_DEADLINE,
        show_default=True,
        help="Seconds one request may wait out 429 answers before it fails (or T4O_DEADLINE).",
    )(func)
    func = click.option(
        "--timeout",
        type=click.FloatRange(min=0, min_open=True),
        envvar="T4O_TIMEOUT",
        default=DEFAULT_TIMEOUT,
        show_default=True,
        help="Seconds one request may take, its whole answer included (or T4O_TIMEOUT);"
        " a request is tried at most 5 times.",
    )(func)
    func = click.option(
        "--provider",
        envvar="T4O_PROVIDER",
        default="t4o",
        show_default=True,
        help="The provider (entry point of t4o_reconcile.providers) that speaks to the API.",
    )(func)
    return func


def _plan_options(func: Callable[..., None]) -> Callable[..., None]:
    func = click.option(
        "--tenant", "tenants", multiple=True, help="Plan only this tenant (repeatable)."
    )(func)
    func = click.option(
        "--delete-unmanaged",
        is_flag=True,
        help="Delete live tenants that have no file (never without this flag).",
    )(func)
    func = click.option(
        "--unmanaged-list",
        envvar="T4O_UNMANAGED_LIST",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="The operator's list of live tenants kept outside Git on purpose (one slug a"
        " line, # comments; or T4O_UNMANAGED_LIST). Never deleted; with"
        " --detailed-exitcode only other live tenants without a file exit 4. Must lie"
        " outside the tenant directory.",
    )(func)
    func = click.option(
        "--changed-since",
        metavar="REF",
        default=None,
        help="Plan what changed since the merge base of this git ref and HEAD: the tenants"
        " whose files changed (all of them when _defaults.yaml changed), the agreements when"
        " _agreements.yaml changed; tenant files deleted in the change leave management."
        " With --reviewed: the merged commit's own change (REF: its first parent), planned"
        " beside the reviewed tenants.",
    )(func)
    func = click.option(
        "--max-delete-share",
        type=click.FloatRange(0, 1),
        default=None,
        help="Share of a tenant's managed items apply may delete without --allow-deletes"
        " (default 0.25; a tenant file's safety section wins).",
    )(func)
    return func


def _options(path: Path, *, read_secrets: bool = True, **kwargs: Any) -> RunOptions:
    from t4o_reconcile.workflow import RunOptions

    return RunOptions(
        policy=_policy(kwargs, read_values=read_secrets),
        path=path,
        api=kwargs.get("api"),
        insecure=bool(kwargs.get("insecure")),
        parallelism=int(kwargs.get("parallelism") or 8),
        tenants=tuple(kwargs.get("tenants") or ()),
        delete_unmanaged=bool(kwargs.get("delete_unmanaged")),
        allow_deletes=bool(kwargs.get("allow_deletes")),
        max_delete_share=kwargs.get("max_delete_share"),
        provider=str(kwargs.get("provider") or "t4o"),
        rate_limit=kwargs.get("client_rate_limit"),
        deadline=float(kwargs.get("deadline") or DEFAULT_DEADLINE),
        changed_since=kwargs.get("changed_since"),
        unmanaged_list=kwargs.get("unmanaged_list"),
        timeout=float(kwargs.get("timeout") or DEFAULT_TIMEOUT),
    )


def _color() -> bool:
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _fail(message: str) -> NoReturn:
    from t4o_reconcile.render.escape import terminal_message

    click.echo(f"Error: {terminal_message(message)}", err=True)
    sys.exit(1)


def _run(
    coro_factory: Callable[[Provider, Target], Awaitable[T]],
    options: RunOptions,
    *,
    fmt: str = "text",
) -> T:
    """Run one async step against the target (resolved once, here); expected failures
    are ``T4oError``s, reported once by ``_Cli`` (invalid files in the format asked for,
    here)."""
    from t4o_reconcile.workflow import open_provider, target_of

    async def go() -> T:
        target = target_of(options)
        async with open_provider(options, target) as provider:
            return await coro_factory(provider, target)

    return _run_step(go(), fmt=fmt)


def _get_ready(path: Path, kwargs: dict[str, Any]) -> None:
    """A plan of the whole repository loads a large one in a child process: its fork
    server starts now, beside this process's imports (``loading_child``)."""
    if not kwargs.get("tenants") and not kwargs.get("changed_since"):
        from t4o_reconcile.loading_child import get_ready

        get_ready(path)


def _run_step(step: Coroutine[Any, Any, T], *, fmt: str = "text") -> T:
    """Run one workflow step; invalid files are shown here in the format asked for (and
    reported once more, as the error, by ``_Cli``)."""
    try:
        return asyncio.run(step)
    except ConfigInvalid as exc:
        from t4o_reconcile.render.findings import from_problems, render

        findings = from_problems(exc.problems)
        if fmt in ("json", "github", "sarif"):
            click.echo(render(findings, fmt), nl=False)
        else:
            click.echo(render(findings, "text"), err=True, nl=False)
        exc.shown = True
        raise


PLAN_FORMATS = ("text", "markdown", "json", "github", "sarif")
_PROBLEM_ONLY = ("github", "sarif")


def _plan_format(func: Callable[..., None]) -> Callable[..., None]:
    """``--format`` of plan and show: one plan, five ways to show it; and the wording of
    approvals (a label in CI, a flag at a terminal)."""
    func = click.option(
        "--approved-by",
        metavar="TEXT",
        default=None,
        help="Who approved, and when (as CI read it from the pull request): shown where the"
        " approval is called out. It approves nothing.",
    )(func)
    func = click.option(
        "--approval-label",
        metavar="NAME",
        default=None,
        help="The pull-request label that approves: the plan says to add it instead of"
        " passing --allow-deletes (CI's wording).",
    )(func)
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(PLAN_FORMATS),
        default="text",
        show_default=True,
        help="github and sarif show the plan's problems (annotations); the plan itself is"
        " text, markdown (the pull-request comment) or json.",
    )(func)


def _approval(kwargs: dict[str, Any]) -> Approval:
    from t4o_reconcile.render.approval import Approval

    label, by = kwargs.pop("approval_label", None), kwargs.pop("approved_by", None)
    return Approval(label=label or None, approved_by=by or None)


@main.command()
@click.argument("path", type=click.Path(path_type=Path), default=DEFAULT_PATH)
@_plan_format
@click.option("--out", "out", type=click.Path(path_type=Path), help="Save the plan for apply.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 0 for no changes, 2 for changes, 3 for changes that need an approval"
    " (--allow-deletes) that was not given, 4 for live tenants that have no file and are"
    " not on --unmanaged-list (OR-ed: 6, 7), 1 on error.",
)
@click.option(
    "--unmanaged-is-drift",
    is_flag=True,
    hidden=True,
    help="Deprecated: --detailed-exitcode exits 4 for unlisted unmanaged tenants anyway.",
)
@click.option(
    "--allow-deletes",
    is_flag=True,
    help="Approve the deletes that need it. A plan saved with --out records the approval;"
    " apply --plan needs this flag too (a plan file never approves on its own).",
)
@click.option(
    "--reviewed",
    "reviewed_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Plan as this reviewed plan file was made (its tenants, within this run's"
    " --tenant, --allow-deletes and --delete-unmanaged) and fail unless the result does"
    " exactly what it showed inside its scope, and changes nothing outside it: the merge"
    " job's check before apply --plan.",
)
@click.option(
    "--without-secrets",
    is_flag=True,
    help="Read no secret value: secrets are not compared and the plan is partial"
    " (for pull-request jobs that hold no secrets; a partial plan cannot be applied).",
)
@_plan_options
@_api_options
@_secret_options
def plan(
    path: Path,
    fmt: str,
    out: Path | None,
    detailed_exitcode: bool,
    unmanaged_is_drift: bool,
    reviewed_file: Path | None,
    without_secrets: bool,
    **kwargs: Any,
) -> None:
    """Show what apply would change on the target for the tenant files under PATH."""
    _get_ready(path, kwargs)
    from t4o_reconcile.workflow import plan_and_save, refuse_changing_options

    approval = _approval(kwargs)
    options = _options(path, read_secrets=not without_secrets, **kwargs)
    if reviewed_file is not None:
        refuse_changing_options("plan --reviewed", options)  # before connecting

    def planning(provider: Provider, target: Target) -> Awaitable[Planned]:
        return plan_and_save(
            options, provider, target, out=out, reviewed=reviewed_file, seal=not without_secrets
        )

    planned = _run(planning, options, fmt=fmt)
    if fmt not in _PROBLEM_ONLY:
        _echo_problems(planned.repository.warnings)
    the_plan = planned.plan
    _write_plan(the_plan, fmt, planned.repository.warnings, approval)
    if out is not None and not the_plan.has_errors:
        click.echo(
            f"Saved the plan to {out}; apply it with: t4o-reconcile apply --plan {out}", err=True
        )
    if the_plan.has_errors:
        _fail("the plan has errors; apply would refuse it.")
    if unmanaged_is_drift:
        click.echo(UNMANAGED_IS_DRIFT_GONE, err=True)
    if detailed_exitcode:
        sys.exit(_detailed_exit(the_plan))


# plan --detailed-exitcode's bit for live tenants that have no file and are not on the
# operator's list: OR-ed into the changes' code (0, 2, or 3 for changes that need an
# approval), so 4, 6 and 7 tell a new unmanaged tenant apart from drift and from both.
UNLISTED_EXIT = 4
UNMANAGED_IS_DRIFT_GONE = (
    "warning: --unmanaged-is-drift is deprecated and does nothing: --detailed-exitcode"
    " exits 4 (6 with changes) for live tenants that have no file and are not on"
    " --unmanaged-list"
)


# plan --detailed-exitcode: changes that need an approval that was not given.
EXIT_NEEDS_APPROVAL = 3


def _detailed_exit(the_plan: Plan) -> int:
    code = 0
    if the_plan.has_changes:
        # Changes the run may not make yet: CI's check fails apart from "changes" until
        # the approval (the label that becomes --allow-deletes) is given.
        code = EXIT_NEEDS_APPROVAL if _unapproved(the_plan) else 2
    return code | (UNLISTED_EXIT if the_plan.unlisted else 0)


def _unapproved(the_plan: Plan) -> bool:
    """Whether a tenant's changes need --allow-deletes (deletes, sensitive changes) and
    the plan was made without it."""
    return not the_plan.deletes_approved and bool(the_plan.tenants.flagged_slugs())


@main.command()
@click.argument("plan_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@_plan_format
@click.option(
    "--comment-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write the markdown comment as numbered parts (part-001.md, …), each below"
    " GitHub's comment limit, every tenant in exactly one part.",
)
def show(plan_file: Path, fmt: str, comment_dir: Path | None, **kwargs: Any) -> None:
    """Render a saved plan (plan --out) in any format: the full plan artifact."""
    from t4o_reconcile.workflow import read_plan

    approval = _approval(kwargs)
    the_plan = read_plan(plan_file)  # a record, sealed or not; a PlanFileError goes to _Cli
    if comment_dir is not None:
        from t4o_reconcile.render.markdown import write_comment_parts

        written = write_comment_parts(the_plan, comment_dir, approval=approval)
        click.echo(f"wrote {len(written)} comment part(s) to {comment_dir}", err=True)
        return
    _write_plan(the_plan, fmt, approval=approval)


def _write_plan(
    the_plan: Plan,
    fmt: str,
    warnings: Sequence[Problem] = (),
    approval: Approval | None = None,
) -> None:
    """The plan on stdout; text, JSON and markdown are written a tenant at a time, never
    held whole."""
    from t4o_reconcile.render.approval import CLI

    approval = approval or CLI
    pieces: Iterable[str]
    if fmt == "json":
        from t4o_reconcile.render.json import iter_json_plan

        pieces = iter_json_plan(the_plan)
    elif fmt == "text":
        from t4o_reconcile.render.text import iter_text

        pieces = iter_text(the_plan, color=_color(), approval=approval)
    elif fmt == "markdown":
        from t4o_reconcile.render.markdown import iter_markdown

        pieces = iter_markdown(the_plan, approval=approval)
    else:
        click.echo(_findings(the_plan, fmt, warnings), nl=False)
        return
    stream = sys.stdout
    for piece in pieces:
        stream.write(piece)
    stream.write("\n")
    stream.flush()


def _findings(the_plan: Plan, fmt: str, warnings: Sequence[Problem]) -> str:
    """The plan's problems only (``_PROBLEM_ONLY`` formats): workflow commands or SARIF."""
    from t4o_reconcile.render.findings import from_plan, from_problems, render, summary_notice

    text = render([*from_problems(warnings), *from_plan(the_plan)], fmt)
    return text + summary_notice(the_plan) if fmt == "github" else text


@main.command()
@click.argument("path", type=click.Path(path_type=Path), default=DEFAULT_PATH)
@click.option(
    "--plan",
    "plan_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Apply this saved plan exactly (refused if anything changed since, or if its seal"
    " does not verify); --allow-deletes, --delete-unmanaged and --tenant still decide what"
    " it may do.",
)
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option(
    "--allow-deletes",
    is_flag=True,
    help="Allow deleting users, bank accounts, tenants or many items (with --plan: only"
    " if the plan was also made with it).",
)
@click.option("--fail-fast", is_flag=True, help="Stop every tenant at the first failure.")
@click.option(
    "--report", type=click.Path(path_type=Path), help="Write what was done as JSON to this file."
)
@_plan_options
@_api_options
@_secret_options
def apply(
    path: Path,
    plan_file: Path | None,
    auto_approve: bool,
    fail_fast: bool,
    report: Path | None,
    **kwargs: Any,
) -> None:
    """Plan, confirm and make the changes (or apply a saved plan with --plan)."""
    _get_ready(path, kwargs)
    from t4o_reconcile.workflow import apply_configuration

    outcome = _run_step(
        apply_configuration(
            _options(path, **kwargs),
            _ApplyScreen(),
            plan_file=plan_file,
            auto_approve=auto_approve,
            fail_fast=fail_fast,
        )
    )
    if outcome is None:
        click.echo("Nothing to apply.", err=True)
        return
    from t4o_reconcile.render.escape import terminal

    for entry in outcome.actions:
        if entry.outcome != "applied":
            address, message = terminal(entry.address), terminal(entry.message)
            click.echo(f"  {entry.outcome}: {address}: {message}", err=True)
    if report is not None:
        import json

        report.write_text(json.dumps(outcome.to_dict(), indent=2, sort_keys=True) + "\n")
    click.echo(outcome.summary())
    if not outcome.ok:
        click.echo("Run apply again to converge once the cause is fixed.", err=True)
        sys.exit(1)


class _ApplyScreen:
    """apply on the terminal: the plan on stdout, the question and progress on stderr."""

    def show(self, plan: Plan, saved: Path | None) -> None:
        if saved is None:
            _write_plan(plan, "text")
            return
        from t4o_reconcile.render.common import summary_line
        from t4o_reconcile.render.escape import terminal

        click.echo(f"Target: {terminal(plan.target)}")
        click.echo(f"Applying the saved plan {terminal(saved)}: {summary_line(plan)}")

    def confirm(self) -> None:
        if not sys.stdin.isatty():
            raise UsageError(
                "apply needs confirmation, but standard input is not a terminal:"
                " run with --auto-approve (after reviewing the plan) or from a terminal."
            )
        answer = click.prompt(
            "Apply these changes? Only 'yes' is accepted", default="", show_default=False
        )
        if answer.strip() != "yes":
            raise WorkflowError("apply cancelled; nothing was written.")

    def progress(self, tenants: int) -> Progress:
        from t4o_reconcile.render.progress import LogProgress, TerminalProgress

        progress_type = TerminalProgress if sys.stderr.isatty() else LogProgress
        return progress_type(sys.stderr, tenants=tenants)


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    from t4o_reconcile.timespec import SinceError, parse_since

    if value is None:
        return None
    try:
        return parse_since(value)
    except SinceError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@main.command("log")
@click.option("--tenant", "slug", required=True, help="The tenant whose logs to show.")
@click.option(
    "--since",
    metavar="TIME|DURATION",
    callback=_since,
    default=None,
    help="Only entries from this time on: ISO 8601 (2026-11-23, 2026-11-23T08:00+01:00;"
    " UTC without an offset) or a duration before now (90m, 24h, 7d, 2w).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "markdown", "json"]),
    default="text",
    show_default=True,
)
@click.option(
    "--only",
    type=click.Choice(["audit", "distribution"]),
    default=None,
    help="Show one log: audit (who changed what, when) or distribution (who invoiced,"
    " to whom, how it went out). Default: both.",
)
@_api_options
def log_command(slug: str, since: Any, fmt: str, only: str | None, **kwargs: Any) -> None:
    """Show a tenant's audit log and the distribution log of its invoices (reads only)."""
    from t4o_reconcile.activity import read_logs
    from t4o_reconcile.render.log import render_log

    kinds: Any = (only,) if only else ("audit", "distribution")
    options = _options(DEFAULT_PATH, read_secrets=False, **kwargs)
    view = _run(lambda provider, _: read_logs(provider, slug, since=since, kinds=kinds), options)
    click.echo(render_log(view, fmt), nl=False)


@main.command()
@click.option("--tenant", "tenants", multiple=True, help="Export this tenant (repeatable).")
@click.option("--all", "all_tenants", is_flag=True, help="Export every tenant the token sees.")
@click.option(
    "--out", "out_dir", type=click.Path(path_type=Path), default=DEFAULT_PATH, show_default=True
)
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option(
    "--secret-env-prefix",
    default=None,
    metavar="PREFIX",
    help="Prefix of the secret variables named in the files (or T4O_SECRET_ENV_PREFIX;"
    " default T4O_SECRET_).",
)
@_api_options
def export(
    tenants: tuple[str, ...], all_tenants: bool, out_dir: Path, force: bool, **kwargs: Any
) -> None:
    """Write live tenants as YAML files, so that plan afterwards shows no change."""
    from t4o_reconcile.workflow import export_tenants

    if not tenants and not all_tenants:
        _fail("name the tenants to export with --tenant SLUG, or pass --all")
    options = _options(out_dir, **kwargs)
    written = _run(
        lambda provider, _: export_tenants(
            provider,
            tenants or None,
            out_dir,
            force=force,
            env_prefix=kwargs.get("secret_env_prefix"),
        ),
        options,
    )
    for path in written:
        click.echo(f"wrote {path}")
    click.echo(
        "Secrets are not exported: set the environment variables named in the files.", err=True
    )
