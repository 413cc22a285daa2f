"""Loading a directory of tenant files into a validated ``Repository``.

Every file is parsed (``fastyaml``, or its entry in the ``parsecache`` when the bytes
did not change) and validated, always; only a file with something to report is read
again to find line and column (see ``yamlfile``). All problems in all files are reported
in one run.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from t4o_reconcile import national_id
from t4o_reconcile.config import cross_rules, fastyaml
from t4o_reconcile.config.messages import describe
from t4o_reconcile.config.parsecache import ParseCache
from t4o_reconcile.config.problems import DocPath, Problem
from t4o_reconcile.config.regularfile import NotRegular, read_regular, refusal
from t4o_reconcile.config.repository import AgreementEntry, Origin, Repository, TenantEntry
from t4o_reconcile.config.secret_refs import SecretPolicy
from t4o_reconcile.config.tenant_models import AgreementsFile, SecretRef, Tenant
from t4o_reconcile.config.yamlfile import ParseError, SourceFile, YAMLSyntax, decode, parse
from t4o_reconcile.engine import sections as registry
from t4o_reconcile.engine.snapshot import Secret, UnresolvedSecret

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor
    from multiprocessing.context import BaseContext

DEFAULTS = "_defaults"
AGREEMENTS = "_agreements"
_SHARED = (DEFAULTS, AGREEMENTS)
SUFFIXES = (".yaml", ".yml")
# Below this many files left to parse, starting worker processes costs more than it
# saves.
PARALLEL_FROM = 200
# Files parsed here (not found in the cache) before the workers are started for the
# rest: a warm cache never starts them.
POOL_AFTER = 16
PIPELINE_CHUNK = 16
# Chunks parsed ahead per worker. Only so many: parsed data waiting to be validated would
# otherwise pile up while this process is busy (plan reads and diffs beside the load).
PARSE_AHEAD = 4
# The largest tenant file read: a tenant with 1,000 users and every other section full is
# about 150 KiB.
MAX_FILE_BYTES = 1 << 20


_NOT_INHERITED = {
    "slug": "slug cannot be inherited; expected it in each tenant file",
    "lifecycle": "lifecycle cannot be inherited (it would decommission every tenant);"
    " expected it in the file of each tenant it ends",
}


@dataclass(slots=True)
class LoadResult:
    # Errors and warnings, in file order; see ``errors`` and ``warnings``.
    problems: list[Problem] = field(default_factory=list)
    files_with_problems: int = 0
    tenant_count: int = 0
    # None when a problem other than an unresolved secret was found: only a repository
    # whose every file is valid is handed on (plan reports unresolved secrets itself).
    repository: Repository | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_error]


def load_repository(
    path: Path,
    *,
    environ: Mapping[str, str] | None = None,
    policy: SecretPolicy | None = None,
    keep_tenants: bool = True,
    on_tenant: Callable[[TenantEntry], None] | None = None,
    cache: ParseCache | Literal["settings"] | None = "settings",
    only: frozenset[str] | None = None,
) -> LoadResult:
    """Read, merge, validate and check every tenant file in the directory ``path``.

    Secret references are checked against ``policy`` (by default the operator's settings
    in ``environ``) and, when it reads values, resolved. Without ``keep_tenants`` (only
    the problems are wanted: validate) each tenant's model is dropped once it is checked,
    and the repository comes back without tenants; ``on_tenant`` is handed each tenant
    file that loaded, as it loads (plan makes its snapshot then), before it is dropped.

    ``cache``: parsed files by their bytes (``parsecache``); by default the one the
    operator's environment sets (``T4O_CACHE``), and none when ``environ`` is given
    instead of the process's own (a test's or a caller's settings name no cache).

    ``only``: the slugs whose files are read (None: every one). A scoped plan reads the
    files it plans, not the repository: the rules across files then hold among those
    files only, and the rest is left to ``validate`` of the whole tree (docs/ci-loop.md).
    The shared files are always read, and every file is listed and checked to be a
    regular file."""
    fastyaml.require()
    env = os.environ if environ is None else environ
    if policy is None:
        policy = SecretPolicy.from_settings(environ=env)
    if cache == "settings":
        cache = ParseCache.from_settings(os.environ) if environ is None else None
    return _Loader(Path(path), env, policy, keep_tenants, on_tenant, cache, only).run()


class _Loader:
    def __init__(
        self,
        root: Path,
        environ: Mapping[str, str],
        policy: SecretPolicy,
        keep_tenants: bool = True,
        on_tenant: Callable[[TenantEntry], None] | None = None,
        cache: ParseCache | None = None,
        only: frozenset[str] | None = None,
    ) -> None:
        self.root = root
        self.only = only
        self.environ = environ
        self.policy = policy
        self.keep_tenants = keep_tenants
        self.on_tenant = on_tenant
        self.cache = cache
        self.problems: list[Problem] = []
        self.slugs: frozenset[str] = frozenset()
        self._parsed: dict[Path, tuple[str, Any] | ParseError] = {}
        # Files the worker processes are parsing, in order (see _parse_ahead).
        self._pending: Iterator[tuple[Path, tuple[str, Any] | ParseError]] = iter(())
        # The tenant files in order, and how many were parsed here (see _read).
        self._order: dict[Path, int] = {}
        self._tenant_paths: list[Path] = []
        self._parsed_here = 0
        self._pool: contextlib.ExitStack | None = None

    def run(self) -> LoadResult:
        if not self.root.is_dir():
            what = "does not exist" if not self.root.exists() else "is not a directory"
            self.problems.append(
                Problem(str(self.root), 1, 1, (), f"{what}; expected a directory of tenant files")
            )
            return self._result(0, None)
        listed = self._regular_files()
        if listed is None:
            return self._result(0, None)
        files, slugs = listed
        specials = {p.stem: p for p in files if p.stem in _SHARED}
        tenant_files = [p for p in files if p.stem not in _SHARED]
        # Every slug of the repository (a file's slug is its name): a secret is bound to
        # its tenant by name, and a longer slug's names are never a shorter one's.
        self.slugs = frozenset(slugs)
        defaults_file, defaults_data = self._read_defaults(specials.get(DEFAULTS))
        agreements_path = specials.get(AGREEMENTS, self.root / f"{AGREEMENTS}.yaml")
        agreements = self._read_agreements(specials.get(AGREEMENTS))

        entries: list[TenantEntry] = []
        across = cross_rules.Across(agreements, agreements_path)
        with self._parse_ahead(tenant_files):
            for tenant_path in tenant_files:
                entry = self._read_tenant(tenant_path, defaults_file, defaults_data)
                if entry is not None:
                    self.problems += cross_rules.check_tenant(entry)
                    self.problems += across.add(entry)
                    if self.on_tenant is not None:
                        self.on_tenant(entry)
                    if self.keep_tenants:
                        entries.append(entry)
                    else:
                        # The rules across files hold on to where each tenant is, not to
                        # its text: every text would be held to the end of the load.
                        entry.origin.let_go()
        self.problems += across.finish()

        repository = Repository(
            root=self.root,
            tenants={e.slug: e for e in sorted(entries, key=lambda e: e.slug)},
            agreements=agreements,
            files=files,
            slugs=self.slugs,
        )
        return self._result(len(tenant_files), repository)

    def _result(self, tenant_count: int, repository: Repository | None) -> LoadResult:
        unique = list(dict.fromkeys(self.problems))
        unique.sort(key=lambda p: (p.file, p.line, p.column))
        # Warnings never block: the files are valid, the reviewer is told.
        blocking = any(p.is_error and not p.unresolved_secret for p in unique)
        if repository is not None:
            repository.warnings = [p for p in unique if not p.is_error]
        return LoadResult(
            problems=unique,
            files_with_problems=len({p.file for p in unique if p.is_error}),
            tenant_count=tenant_count,
            repository=None if blocking else repository,
        )

    # -- reading

    def _regular_files(self) -> tuple[list[Path], list[str]] | None:
        """The files to read (the shared ones, and the tenant files in scope), each a
        regular file, and the slug of every tenant file named (read or not); whatever is
        named like a file to read but is not a regular file is a problem, never read.
        None: the directory cannot be listed, or leads out of its repository through a
        link, and nothing in it is read."""
        from t4o_reconcile.gitrepo import LeavesRepository, locate

        try:
            location = locate(self.root)
        except LeavesRepository as exc:
            how = (
                "is a symbolic link to a path outside the repository"
                if exc.link == exc.path
                else f"leads outside the repository through the symbolic link {exc.link}"
            )
            self._add(self.root, 1, 1, (), f"{how}; expected the tenant directory inside it")
            return None
        repository = location.root or location.tenants
        try:
            # Names, not Paths: a scoped plan lists 10,000 files to read three, and a
            # Path per name (made, sorted, split) cost it a fifth of a second.
            names = sorted(os.listdir(self.root))
        except OSError as exc:
            self._add(self.root, 1, 1, (), f"cannot be listed: {exc.strerror}")
            return None
        files: list[Path] = []
        slugs: list[str] = []
        for name in names:
            stem, suffix = os.path.splitext(name)
            if suffix not in SUFFIXES:
                continue
            shared = stem in _SHARED
            if self.only is not None and not shared and stem not in self.only:
                # Never read here (validate of the whole tree checks it): its name is all
                # a scoped plan needs, for the repository's slugs.
                slugs.append(stem)
                continue
            path = self.root / name
            try:
                refused = refusal(path, repository)
            except OSError as exc:
                refused = f"cannot be read: {exc.strerror}"
            if refused is None:
                files.append(path)
                if not shared:
                    slugs.append(stem)
            else:
                self._add(path, 1, 1, (), refused)
        return files, slugs

    def _read(self, path: Path) -> tuple[SourceFile, Any] | None:
        read = self._parsed.pop(path, None)
        if read is None:
            for parsed_path, parsed in self._pending:
                if parsed_path == path:
                    read = parsed
                    break
                self._parsed[parsed_path] = parsed
        if read is None:
            hits = self.cache.hits if self.cache is not None else 0
            read = read_file(path, self.cache)
            if self.cache is None or self.cache.hits == hits:
                self._parsed_here += 1
                self._start_pool_after(path)
        if isinstance(read, ParseError):
            self._add(path, read.line, read.column, (), read.message)
            return None
        text, data = read
        return SourceFile(path, text), data

    @contextlib.contextmanager
    def _parse_ahead(self, paths: list[Path]) -> Iterator[None]:
        """Let ``_read`` hand the files after the first ``POOL_AFTER`` parsed here (not
        found in the cache) to worker processes, which parse them on every core while
        this process validates the ones already parsed: parsing is most of a cold load.
        A warm cache starts no process at all."""
        self._tenant_paths = paths
        self._order = {path: index for index, path in enumerate(paths)}
        with contextlib.ExitStack() as stack:
            self._pool = stack
            try:
                yield
            finally:
                self._pending = iter(())
                self._pool = None

    def _start_pool_after(self, path: Path) -> None:
        index = self._order.get(path)
        if self._pool is None or index is None or self._parsed_here < POOL_AFTER:
            return
        rest = self._tenant_paths[index + 1 :]
        workers = min(os.cpu_count() or 1, 8)
        if len(rest) < PARALLEL_FROM or workers < 2:
            return
        # Only a load of many files gets here: a scoped plan never imports these.
        from concurrent.futures import ProcessPoolExecutor

        stack, self._pool = self._pool, None  # started once
        pool = stack.enter_context(ProcessPoolExecutor(workers, mp_context=_pool_context()))
        # Small chunks, so that validation goes on from the first ones soon.
        chunk = max(1, min(PIPELINE_CHUNK, len(rest) // (workers * 4)))
        self._pending = _parsed_in(pool, rest, chunk, workers * PARSE_AHEAD, self.cache)

    def _add(self, path: Path, line: int, column: int, doc: DocPath, message: str) -> None:
        self.problems.append(Problem(str(path), line, column, doc, message))

    def _mapping(self, path: Path, source: SourceFile, data: Any, expected: str) -> bool:
        if isinstance(data, dict):
            return True
        got = "an empty file" if data is None else f"a {_yaml_type(data)}"
        message = f"expected a mapping of {expected}, got {got}"
        if data is None:
            message = f"empty file; expected a mapping of {expected}"
        line, column = source.position(())
        self._add(path, line, column, (), message)
        return False

    def _read_defaults(self, path: Path | None) -> tuple[SourceFile | None, dict[str, Any]]:
        if path is None:
            return None, {}
        read = self._read(path)
        if read is None:
            return None, {}
        source, data = read
        if data is None:
            return source, {}  # an empty defaults file sets nothing
        if not self._mapping(path, source, data, "settings every tenant inherits"):
            return None, {}
        # lifecycle: one inherited `decommissioned` would end every client at once.
        for own, why in _NOT_INHERITED.items():
            if own in data:
                line, column = source.position((own,), key=True)
                self._add(path, line, column, (own,), why)
        # Alone the defaults are a partial tenant: a missing key may come from the tenant.
        for error in _errors(Tenant, data):
            if error["type"] == "missing" or not error["loc"]:
                continue
            located = describe(error, Tenant)
            line, column = source.position(located.path, key=located.at_key)
            self._add(path, line, column, located.path, located.message)
        return source, data

    def _read_agreements(self, path: Path | None) -> list[AgreementEntry] | None:
        if path is None:
            return None
        read = self._read(path)
        if read is None:
            return []
        source, data = read
        if not self._mapping(path, source, data, "agreements: [{name, customer_number}]"):
            return []
        try:
            parsed = AgreementsFile.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors():
                located = describe(error, AgreementsFile)
                line, column = source.position(located.path, key=located.at_key)
                self._add(path, line, column, located.path, located.message)
            return []
        return [AgreementEntry(a, i, source) for i, a in enumerate(parsed.agreements)]

    def _read_tenant(
        self, path: Path, defaults_file: SourceFile | None, defaults: dict[str, Any]
    ) -> TenantEntry | None:
        read = self._read(path)
        if read is None:
            return None
        source, data = read
        if not self._mapping(path, source, data, "tenant settings (at least slug and name)"):
            return None
        merged = merge(defaults, data)
        origin = Origin(source, defaults_file, defaults if defaults_file else None)
        try:
            tenant = Tenant.model_validate(merged)
        except ValidationError as exc:
            origin.written = data
            for error in exc.errors():
                located = describe(error, Tenant)
                file, line, column = origin.locate(located.path, key=located.at_key)
                self.problems.append(Problem(file, line, column, located.path, located.message))
            return None
        entry = TenantEntry(tenant=tenant, source=path, origin=origin)
        self._resolve_secrets(entry)
        return entry

    def _resolve_secrets(self, entry: TenantEntry) -> None:
        tenant = entry.tenant
        references: list[tuple[DocPath, str]] = []
        for name, secret_fields in registry.SECRET_FIELDS.items():
            held = getattr(tenant, name)
            items = enumerate(held or []) if isinstance(held, list) else [(None, held)]
            for index, item in items:
                for secret_field in secret_fields:
                    ref = getattr(item, secret_field, None)
                    if isinstance(ref, SecretRef):
                        at = (name, secret_field) if index is None else (name, index, secret_field)
                        references.append((at, ref.secret))
        if isinstance(tenant.personal_number, SecretRef):
            references.append((("personal_number",), tenant.personal_number.secret))
        for doc_path, reference in references:
            refused = self.policy.check(reference, tenant.slug, self.slugs)
            if refused is not None:
                self.problems.append(entry.problem(doc_path, f"{refused} (tenant {tenant.slug})"))
                entry.secrets[doc_path] = UnresolvedSecret(reference, refused)
                continue
            value = self.policy.resolve(reference, self.environ)
            if doc_path == ("personal_number",) and isinstance(value, Secret):
                checked = self._checked_personal_number(entry, value)
                if checked is None:
                    continue
                value = checked
            entry.secrets[doc_path] = value
            if isinstance(value, UnresolvedSecret):
                self.problems.append(
                    entry.problem(
                        doc_path,
                        f"{value.problem}; expected it to hold the secret of tenant"
                        f" {tenant.slug!r} ({reference})",
                        unresolved_secret=True,
                    )
                )

    def _checked_personal_number(self, entry: TenantEntry, value: Secret) -> Secret | None:
        """A personal number from a reference, checked like one written in the file; the
        problem names the reference, never the number."""
        try:
            number = national_id.personal_number(value.value, entry.tenant.country)
        except national_id.IdentityError as exc:
            self.problems.append(
                entry.problem(("personal_number",), f"{exc} (read from {value.source})")
            )
            return None
        return Secret(number, value.source, national_id.last_digits(number))


def _pool_context() -> BaseContext:
    """Worker processes that never fork this one: the load runs in a thread beside the
    plan's event loop (``asyncio.to_thread``), and forking a process with threads is
    unsafe (Python 3.12 warns). A fork server, started fresh and with this module
    imported once, forks the workers from a process with one thread; spawn where there
    is no fork server (Windows)."""
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


def _parsed_in(
    pool: ProcessPoolExecutor,
    paths: list[Path],
    chunk: int,
    ahead: int,
    cache: ParseCache | None = None,
) -> Iterator[tuple[Path, tuple[str, Any] | ParseError]]:
    """Each path with what ``read_file`` made of it, in order, parsed by ``pool`` at most
    ``ahead`` chunks ahead of the caller."""
    chunks = iter([paths[i : i + chunk] for i in range(0, len(paths), chunk)])
    running: collections.deque[tuple[list[Path], Future[list[tuple[str, Any] | ParseError]]]]
    running = collections.deque(
        (part, pool.submit(read_files, part, cache)) for part in itertools.islice(chunks, ahead)
    )
    while running:
        part, future = running.popleft()
        following = next(chunks, None)
        if following is not None:
            running.append((following, pool.submit(read_files, following, cache)))
        yield from zip(part, future.result(), strict=True)


def read_files(
    paths: list[Path], cache: ParseCache | None = None
) -> list[tuple[str, Any] | ParseError]:
    return [read_file(path, cache) for path in paths]


def read_file(path: Path, cache: ParseCache | None = None) -> tuple[str, Any] | ParseError:
    """A file's text and parsed data, or why it cannot be read (picklable for workers).
    The data comes from ``cache`` when it holds these bytes' parse, and goes into it
    when parsed here (a file with a syntax problem is never stored)."""
    try:
        data = read_regular(path, MAX_FILE_BYTES + 1)
    except NotRegular as exc:
        return ParseError(1, 1, str(exc))
    except OSError as exc:
        return ParseError(1, 1, f"cannot be read: {exc.strerror}")
    if len(data) > MAX_FILE_BYTES:
        # Read no further: time and memory stay bounded whatever the size.
        line = data.count(b"\n", 0, MAX_FILE_BYTES) + 1
        return ParseError(
            line,
            1,
            f"the file is larger than {MAX_FILE_BYTES // 1024} KiB (the limit is reached on"
            " this line); expected a tenant file, which is far smaller even with 1,000 users",
        )
    text = decode(data)
    if isinstance(text, ParseError):
        return text
    key = ""
    if cache is not None:
        key = cache.key(data)
        found, parsed = cache.get(key)
        if found:
            return text, parsed
    try:
        parsed = parse(text)
    except YAMLSyntax as exc:
        return exc.error
    if cache is not None:
        cache.put(key, parsed)
    return text, parsed


def merge(defaults: Mapping[str, Any], tenant: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: mappings merge recursively with the tenant winning; lists are replaced."""
    merged = dict(defaults)
    for key, value in tenant.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict):
            merged[key] = merge(base, value)
        else:
            merged[key] = value
    return merged


def _errors(model: type[BaseModel], data: Any) -> list[Any]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return list(exc.errors())
    return []


def _yaml_type(data: Any) -> str:
    if isinstance(data, list):
        return "list"
    if isinstance(data, str):
        return "string"
    if isinstance(data, bool):
        return "boolean"
    if isinstance(data, int | float):
        return "number"
    return type(data).__name__
