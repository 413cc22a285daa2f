"""Secret references (``{secret: env:NAME}``, ``{secret: file:PATH}``) and the policy
that decides which of them a run may read.

Tenant files are untrusted (anyone may open a pull request), so what a reference may
reach is decided outside the repository, by the operator (``SecretPolicy``):

- ``env:NAME`` only for names that start with the operator's prefix (``T4O_SECRET_`` by
  default); the tool's own variables (``T4O_API_TOKEN``, ...) are never secrets. The
  name is looked up in the environment, then in the secrets file (``T4O_SECRETS_FILE``).
- ``file:PATH`` only relative, without ``..``, inside the operator's secrets directory
  (``T4O_SECRETS_DIR``), and never through a symlink that leaves it.
- Each reference is bound to the tenant whose file holds it: ``env:`` names start with
  the prefix and the tenant's own part (``T4O_SECRET_OK_SKOGEN_`` for ``ok-skogen``, and
  not one of a longer slug of the repository, ``T4O_SECRET_OK_SKOGEN_UNGDOM_``);
  ``file:`` paths lie in the tenant's own folder (``file:ok-skogen/smtp``). A secret
  several tenants use is named in the operator's allow-list (``T4O_SHARED_SECRETS``,
  comma-separated names or ``file:`` paths), which no tenant file can widen. Otherwise
  a new tenant file could send another client's SMTP password to a host it names.

A value is read into a ``Secret`` and goes nowhere else; a reference that the policy
allows but that cannot be resolved becomes an ``UnresolvedSecret`` naming the reference,
never a value.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from t4o_reconcile.engine.snapshot import Secret, UnreadSecret, UnresolvedSecret
from t4o_reconcile.errors import SecretPolicyError, UsageError

DEFAULT_ENV_PREFIX = "T4O_SECRET_"
ENV_PREFIX_ENV = "T4O_SECRET_ENV_PREFIX"
SECRETS_DIR_ENV = "T4O_SECRETS_DIR"
SECRETS_FILE_ENV = "T4O_SECRETS_FILE"
SHARED_SECRETS_ENV = "T4O_SHARED_SECRETS"
# A secrets file is a list of short values; anything larger is not one.
MAX_SECRETS_FILE = 1 << 20
MAX_SECRET_FILE = 64 << 10

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Settings of the tool itself: whatever the prefix, a tenant file never reads them.
_TOOL_PREFIX = "T4O_"
_TOOL_SETTINGS = frozenset({ENV_PREFIX_ENV, SECRETS_DIR_ENV, SECRETS_FILE_ENV, SHARED_SECRETS_ENV})


@dataclass(frozen=True, slots=True)
class SecretPolicy:
    """What secret references may reach, as the operator set it (never the repository)."""

    env_prefix: str = DEFAULT_ENV_PREFIX
    secrets_dir: Path | None = None
    secrets_file: Path | None = None
    # False: check references only and read no value (validate; plan --without-secrets).
    read_values: bool = True
    # References any tenant may use (``T4O_SHARED_SECRETS``): ``env:NAME`` or ``file:PATH``.
    shared: frozenset[str] = frozenset()
    _file_values: dict[str, str] | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.env_prefix or not _ENV_NAME.match(self.env_prefix):
            raise UsageError(
                f"secret environment prefix {self.env_prefix!r}: expected a non-empty"
                " variable-name prefix such as T4O_SECRET_ (an empty one would let a tenant"
                " file read every variable of the run)"
            )

    @classmethod
    def from_settings(
        cls,
        *,
        env_prefix: str | None = None,
        secrets_dir: Path | str | None = None,
        secrets_file: Path | str | None = None,
        read_values: bool = True,
        shared: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> SecretPolicy:
        """Options first, then ``T4O_SECRET_ENV_PREFIX``, ``T4O_SECRETS_DIR``,
        ``T4O_SECRETS_FILE`` and ``T4O_SHARED_SECRETS``. The secrets file is read (and its
        permissions checked) only when values are to be read."""
        env = os.environ if environ is None else environ
        prefix = env_prefix if env_prefix is not None else env.get(ENV_PREFIX_ENV)
        directory = secrets_dir or env.get(SECRETS_DIR_ENV) or None
        file = secrets_file or env.get(SECRETS_FILE_ENV) or None
        if directory is not None and not Path(directory).is_dir():
            raise UsageError(f"secrets directory {directory}: expected an existing directory")
        values = load_secrets_file(Path(file)) if file is not None and read_values else None
        return cls(
            env_prefix=DEFAULT_ENV_PREFIX if prefix is None else prefix,
            secrets_dir=None if directory is None else Path(directory),
            secrets_file=None if file is None else Path(file),
            read_values=read_values,
            shared=shared_references(shared if shared is not None else env.get(SHARED_SECRETS_ENV)),
            _file_values=values,
        )

    def check(
        self, reference: str, tenant: str | None = None, tenants: Collection[str] = ()
    ) -> str | None:
        """Why the policy refuses ``reference`` (never reading anything), or None. Given
        ``tenant`` (the slug of the file holding it), the reference must be that tenant's
        own or shared by the operator; ``tenants`` are the repository's slugs, so that a
        name of a longer slug (``OK_SKOGEN_UNGDOM_``) is not taken for a shorter one's."""
        refused = self._check_reach(reference)
        if refused is None and tenant is not None:
            refused = self._check_owner(reference, tenant, tenants)
        return refused

    def _check_owner(self, reference: str, tenant: str, tenants: Collection[str]) -> str | None:
        scheme, _, name = reference.partition(":")
        if reference in self.shared or (scheme == "env" and name in self.shared):
            return None
        shared = (
            f"or one the operator shares with every tenant in {SHARED_SECRETS_ENV} (outside"
            " the repository)"
        )
        if scheme == "file":
            folder = PurePosixPath(name).parts[0] if name else ""
            if folder == tenant and PurePosixPath(name).parts[1:]:
                return None
            return (
                f"secret file {name} is not one of tenant {tenant}'s: expected a path in the"
                f" tenant's own folder of the secrets directory ({tenant}/NAME) {shared}"
            )
        own = self.tenant_env_prefix(tenant)
        owner = _owner_by_name(name, self.env_prefix, _with(tenants, tenant))
        if owner == tenant and len(name) > len(own):
            return None
        whose = f"; it names tenant {owner}'s secrets" if owner is not None else ""
        return (
            f"environment variable {name} is not one of tenant {tenant}'s secrets{whose}:"
            f" expected a name starting with {own} {shared}"
        )

    def tenant_env_prefix(self, tenant: str) -> str:
        """How the names of ``tenant``'s own secret variables start: ``T4O_SECRET_OK_SKOGEN_``."""
        return f"{self.env_prefix}{env_part(tenant)}_"

    def _check_reach(self, reference: str) -> str | None:
        scheme, _, name = reference.partition(":")
        if scheme == "env":
            if not _ENV_NAME.match(name):
                return f"{reference!r}: expected env:NAME with a variable name"
            if is_tool_setting(name):
                return (
                    f"{name} is a setting of t4o-reconcile itself, never a secret; expected a"
                    f" variable whose name starts with {self.env_prefix}"
                )
            if not name.startswith(self.env_prefix):
                return (
                    f"environment variable {name} is not allowed: secret variables must start"
                    f" with {self.env_prefix} (the operator sets the prefix with"
                    f" --secret-env-prefix or {ENV_PREFIX_ENV})"
                )
            return None
        if scheme == "file":
            return _check_file_name(name)
        return f"{reference!r}: expected a reference of the form env:NAME or file:PATH"

    def resolve(
        self, reference: str, environ: Mapping[str, str] | None = None
    ) -> Secret | UnresolvedSecret | UnreadSecret:
        """The value of an allowed reference (call ``check`` first)."""
        if not self.read_values:
            return UnreadSecret(reference)
        env = os.environ if environ is None else environ
        scheme, _, name = reference.partition(":")
        if scheme == "env":
            value = env.get(name)
            if value is None and self._file_values is not None:
                value = self._file_values.get(name)
            if value is None:
                where = f" nor in {self.secrets_file}" if self.secrets_file else ""
                return UnresolvedSecret(reference, f"environment variable {name} is not set{where}")
            if value == "":
                return UnresolvedSecret(reference, f"environment variable {name} is empty")
            return Secret(value, reference)
        return self._read_file(reference, name)

    def _read_file(self, reference: str, name: str) -> Secret | UnresolvedSecret:
        if self.secrets_dir is None:
            return UnresolvedSecret(
                reference,
                f"file:{name} needs a secrets directory: pass --secrets-dir or set"
                f" {SECRETS_DIR_ENV}",
            )
        root = self.secrets_dir.resolve()
        path = root / name
        try:
            real = path.resolve(strict=True)
        except FileNotFoundError:
            return UnresolvedSecret(reference, f"secret file {name} does not exist in {root}")
        except (OSError, RuntimeError):
            return UnresolvedSecret(reference, f"secret file {name} cannot be resolved")
        if not real.is_relative_to(root):
            return UnresolvedSecret(
                reference, f"secret file {name} leads out of the secrets directory {root}"
            )
        try:
            with real.open("rb") as handle:
                data = handle.read(MAX_SECRET_FILE + 1)
        except OSError as exc:
            return UnresolvedSecret(
                reference, f"secret file {name} cannot be read ({exc.strerror or 'error'})"
            )
        if len(data) > MAX_SECRET_FILE:
            return UnresolvedSecret(
                reference, f"secret file {name} is over {MAX_SECRET_FILE} bytes"
            )
        try:
            value = data.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            return UnresolvedSecret(reference, f"secret file {name} is not UTF-8")
        if not value:
            return UnresolvedSecret(reference, f"secret file {name} is empty")
        return Secret(value, reference)


def _with(tenants: Collection[str], tenant: str) -> frozenset[str]:
    """``tenants`` and ``tenant``: the same frozenset when it holds ``tenant`` already (the
    loader's slugs always do), so that its index is made once."""
    if isinstance(tenants, frozenset) and tenant in tenants:
        return tenants
    return frozenset({*tenants, tenant})


def env_part(slug: str) -> str:
    """A slug as part of a variable name: ``ok-skogen`` → ``OK_SKOGEN``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", slug).strip("_").upper()


def _owner_by_name(name: str, prefix: str, tenants: Collection[str]) -> str | None:
    """The tenant whose own part the variable name starts with, the longest of them (an
    ``OK_SKOGEN_UNGDOM_`` name is ``ok-skogen-ungdom``'s, never ``ok-skogen``'s); of slugs
    with the same part (``a-b``, ``a--b``), the first in sorted order, whichever tenant
    asks, so that no two tenants can name one variable. Looked up by the name's own
    prefixes, not by going through every slug: a scoped plan checks a few files'
    references against 10,000 slugs."""
    if not name.startswith(prefix):
        return None
    owners = _owners_by_part(tenants if isinstance(tenants, frozenset) else frozenset(tenants))
    rest = name[len(prefix) :]
    for end in range(len(rest) - 1, 0, -1):  # the longest part first
        if rest[end] != "_":
            continue
        part = rest[:end]
        owner = owners.get(part)
        if owner is not None:
            return owner
    return None


@functools.lru_cache(maxsize=4)
def _owners_by_part(tenants: frozenset[str]) -> dict[str, str]:
    """Each slug by its part of a variable name (the first slug, in order, of a part two
    slugs share)."""
    owners: dict[str, str] = {}
    for slug in sorted(tenants):
        owners.setdefault(env_part(slug), slug)
    return owners


def shared_references(setting: str | None) -> frozenset[str]:
    """The operator's shared secrets: ``NAME,NAME2,file:PATH`` (spaces ignored)."""
    if not setting:
        return frozenset()
    return frozenset(part.strip() for part in setting.split(",") if part.strip())


def is_tool_setting(name: str) -> bool:
    return name in _TOOL_SETTINGS or (
        name.startswith(_TOOL_PREFIX) and not name.startswith(DEFAULT_ENV_PREFIX)
    )


def _check_file_name(name: str) -> str | None:
    if not name:
        return "file: expected a path inside the secrets directory, e.g. file:smtp.secret"
    if "\\" in name or "\x00" in name:
        return f"file:{name}: expected a path with '/' separators and no control characters"
    path = PurePosixPath(name)
    if path.is_absolute() or name.startswith("~"):
        return (
            f"file:{name}: expected a path relative to the secrets directory, not an absolute one"
        )
    if ".." in path.parts:
        return f"file:{name}: '..' is not allowed; the path must stay in the secrets directory"
    return None


def load_secrets_file(path: Path) -> dict[str, str]:
    """The name → value mapping of a secrets file; refused unless only its owner may
    read it, and unless it is a flat mapping of variable names to strings."""
    try:
        info = path.stat()
    except OSError as exc:
        raise SecretPolicyError(
            f"secrets file {path}: cannot be read ({exc.strerror or 'error'})"
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise SecretPolicyError(f"secrets file {path}: expected a regular file")
    if info.st_mode & 0o077:
        raise SecretPolicyError(
            f"secrets file {path}: readable or writable by others (mode"
            f" {stat.S_IMODE(info.st_mode):04o}); expected 0600: chmod 600 {path}"
        )
    if info.st_size > MAX_SECRETS_FILE:
        raise SecretPolicyError(f"secrets file {path}: over {MAX_SECRETS_FILE} bytes")
    data = _parsed_secrets(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SecretPolicyError(f"secrets file {path}: expected a YAML mapping of NAME: value")
    values: dict[str, str] = {}
    for key, value in data.items():
        # The message names the key, never the value.
        if not isinstance(key, str) or not _ENV_NAME.match(key):
            raise SecretPolicyError(
                f"secrets file {path}: key {str(key)[:60]!r}: expected a variable name"
            )
        if not isinstance(value, str):
            raise SecretPolicyError(
                f"secrets file {path}: {key}: expected a string value (quote it)"
            )
        values[key] = value
    return values


def _parsed_secrets(path: Path) -> Any:
    """The secrets file's data, read by the tenant files' parser (``yamlfile.parse``:
    libyaml's events, YAML 1.2): a merge job's file holds every club's key, and ruamel
    took a third of a second over 10,000 of them. An error names the line, never what is
    on it."""
    from t4o_reconcile.config.yamlfile import YAMLSyntax, parse

    try:
        return parse(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        where = ""
    except YAMLSyntax as exc:
        where = f":{exc.error.line}"
    raise SecretPolicyError(
        f"secrets file {path}{where}: expected a YAML mapping of NAME: value"
    ) from None
