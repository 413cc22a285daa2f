"""The loaded tenant files: validated models, resolved secrets and where each came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from t4o_reconcile.config.problems import DocPath, Level, Problem
from t4o_reconcile.engine.snapshot import Secret, UnreadSecret, UnresolvedSecret

if TYPE_CHECKING:
    # Only named here: a plan whose files loaded in a child process holds a Repository
    # without the models (loading_child), and never imports pydantic nor the parser.
    from t4o_reconcile.config.tenant_models import Agreement, Tenant
    from t4o_reconcile.config.yamlfile import SourceFile


@dataclass(slots=True)
class Origin:
    """Maps a path in a tenant's merged document to the file that gave the value.

    Mappings merge with the tenant winning and lists are replaced whole, so a path
    belongs to the tenant file as far as the tenant file has it, and to _defaults.yaml
    from the first key only _defaults.yaml has.
    """

    tenant_file: SourceFile
    defaults_file: SourceFile | None = None
    defaults_data: Any = None
    # The tenant file as written: not kept once the file is valid (the validated model
    # holds what plan needs; at 10,000 tenants these would be 180 MB), parsed again from
    # its text when a problem in it has to be located.
    written: Any = field(default=None, repr=False)

    @property
    def tenant_data(self) -> Any:
        if self.written is None:
            from t4o_reconcile.config.yamlfile import parse

            self.written = parse(self.tenant_file.text)
        return self.written

    def let_go(self) -> None:
        """Drop what the tenant file's text gave once the file has loaded (see
        ``SourceFile.let_go``): a rule across files may still locate a place in it."""
        self.written = None
        self.tenant_file.let_go()

    def locate(self, path: DocPath, *, key: bool = False) -> tuple[str, int, int]:
        source = self.source_of(path)
        line, column = source.position(path, key=key)
        return str(source.path), line, column

    def source_of(self, path: DocPath) -> SourceFile:
        """The file that gave the value at ``path`` (without parsing for positions)."""
        mine: Any = self.tenant_data
        theirs: Any = self.defaults_data
        for step in path:
            if isinstance(step, str):
                if isinstance(mine, dict) and step in mine:
                    mine = mine[step]
                    theirs = theirs.get(step) if isinstance(theirs, dict) else None
                    if not (isinstance(mine, dict) and isinstance(theirs, dict)):
                        theirs = None
                elif self.defaults_file is not None and isinstance(theirs, dict) and step in theirs:
                    return self.defaults_file
                else:
                    break
            else:
                theirs = None
                if isinstance(mine, list) and 0 <= step < len(mine):
                    mine = mine[step]
                else:
                    break
        return self.tenant_file


@dataclass(slots=True)
class TenantEntry:
    tenant: Tenant
    source: Path
    origin: Origin = field(repr=False)
    # Resolved secrets by the path of their field, e.g. ("connections", 0, "token").
    secrets: dict[DocPath, Secret | UnresolvedSecret | UnreadSecret] = field(
        repr=False, default_factory=dict
    )

    @property
    def slug(self) -> str:
        return self.tenant.slug

    def locate(self, path: DocPath, *, key: bool = False) -> str:
        """``file:line:col`` of the value at ``path`` (or of its key)."""
        file, line, column = self.origin.locate(path, key=key)
        return f"{file}:{line}:{column}"

    def problem(
        self,
        path: DocPath,
        message: str,
        *,
        key: bool = False,
        unresolved_secret: bool = False,
        level: Level = "error",
    ) -> Problem:
        file, line, column = self.origin.locate(path, key=key)
        return Problem(file, line, column, path, message, unresolved_secret, level)


@dataclass(slots=True)
class AgreementEntry:
    agreement: Agreement
    index: int
    file: SourceFile = field(repr=False)

    def locate(self, field_name: str | None = None, *, key: bool = False) -> str:
        path = self.path(field_name)
        line, column = self.file.position(path, key=key)
        return f"{self.file.path}:{line}:{column}"

    def path(self, field_name: str | None = None) -> DocPath:
        base: DocPath = ("agreements", self.index)
        return (*base, field_name) if field_name else base

    def problem(
        self, field_name: str | None, message: str, *, key: bool = False, level: Level = "error"
    ) -> Problem:
        path = self.path(field_name)
        line, column = self.file.position(path, key=key)
        return Problem(str(self.file.path), line, column, path, message, level=level)


@dataclass(slots=True)
class Repository:
    root: Path
    tenants: dict[str, TenantEntry]  # by slug, in slug order
    # None when there is no _agreements.yaml: agreements are then unmanaged.
    agreements: list[AgreementEntry] | None
    # Every file read (the shared ones and the tenant files in scope), in name order.
    files: list[Path] = field(default_factory=list)
    # The slug of every tenant file in the directory, read or not (a scoped plan reads
    # only its own, and counts the others as skipped).
    slugs: frozenset[str] = frozenset()
    # What validate would warn about: plan prints these, they never stop it.
    warnings: list[Problem] = field(default_factory=list)
