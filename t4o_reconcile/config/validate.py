"""validate over directories and single files (a pre-commit hook passes file names).

A file is checked as part of its repository (the directory that holds it): the rules
across files (unique slugs, one owner per organisation number, known agreements, …) need
every tenant, so the whole repository is loaded, and the problems of the named files are
reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from t4o_reconcile.config.loader import AGREEMENTS, DEFAULTS, SUFFIXES, load_repository
from t4o_reconcile.config.problems import Problem
from t4o_reconcile.config.secret_refs import SecretPolicy


@dataclass(slots=True)
class Validation:
    problems: list[Problem] = field(default_factory=list)
    tenant_count: int = 0

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def files_with_problems(self) -> int:
        return len({p.file for p in self.problems if p.is_error})


def validate_paths(paths: Sequence[Path], policy: SecretPolicy | None = None) -> Validation:
    """Directories are repositories, checked whole; files are checked within the
    repository of their directory, and only their own problems are reported."""
    result = Validation()
    files_by_root: dict[Path, set[Path]] = {}
    roots_as_given: dict[Path, Path] = {}
    for path in paths:
        if path.is_dir():
            loaded = load_repository(path, policy=policy, keep_tenants=False)
            result.problems += loaded.problems
            result.tenant_count += loaded.tenant_count
            continue
        if not path.exists():
            result.problems.append(Problem(str(path), 1, 1, (), "no such file or directory"))
            continue
        if path.suffix not in SUFFIXES:
            result.problems.append(
                Problem(str(path), 1, 1, (), "expected a tenant file (.yaml or .yml)")
            )
            continue
        root = path.parent
        files_by_root.setdefault(root.resolve(), set()).add(path.resolve())
        roots_as_given.setdefault(root.resolve(), root)
    for resolved_root, wanted in files_by_root.items():
        loaded = load_repository(roots_as_given[resolved_root], policy=policy, keep_tenants=False)
        result.problems += [p for p in loaded.problems if Path(p.file).resolve() in wanted]
        result.tenant_count += sum(1 for f in wanted if f.stem not in (DEFAULTS, AGREEMENTS))
    unique = list(dict.fromkeys(result.problems))
    unique.sort(key=lambda p: (p.file, p.line, p.column))
    result.problems = unique
    return result
