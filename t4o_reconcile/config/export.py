"""Export: live configuration → tenant YAML, so that a plan right after is empty.

Every section the live side holds is written, so the exported file manages all of it;
read-only fields (statuses, last numbers, versions) are left out. Secrets are never
known here (live holds only fingerprints): each becomes ``{secret: env:NAME}`` with a
comment telling the user to supply it.

Values that a YAML 1.1 reader would turn into something else (``NO`` → false, ``0150`` →
an octal number) are quoted, and so are all the number-like identifiers, so the file
reads the same in every YAML parser and every editor.
"""

from __future__ import annotations

import io
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.representer import RoundTripRepresenter
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from t4o_reconcile.config.secret_refs import DEFAULT_ENV_PREFIX
from t4o_reconcile.config.tenant_models import Agreement, Tenant
from t4o_reconcile.config.yamlfile import YAMLSyntax, parse
from t4o_reconcile.engine import sections as registry
from t4o_reconcile.engine.snapshot import Item, TenantSnapshot
from t4o_reconcile.errors import ExportError
from t4o_reconcile.vocabulary import SLUG_PATTERN

DEFAULTS_STEM = "_defaults"

TENANT_SCHEMA = "tenant.schema.json"
AGREEMENTS_SCHEMA = "agreements.schema.json"
AGREEMENTS_FILE = "_agreements.yaml"
# Where the schemas sit relative to examples/tenants/, used when no schemas/ is found.
DEFAULT_SCHEMA_DIR = "../../schemas"

# Variables holding secrets and personal data are named with this prefix.
SECRET_ENV_PREFIX = "T4O_SECRET_"

# Identifiers that look like numbers: always quoted, whatever their value.
_ALWAYS_QUOTED = {
    "organization_number",
    "personal_number",
    "postal_code",
    "country",
    "account_number",
    "customer_number",
    "phone",
}
# Scalars a YAML 1.1 reader resolves to bool, null or a number.
_YAML11_WORDS = frozenset(("y", "yes", "n", "no", "true", "false", "on", "off", "null", "~"))
_YAML11_NUMBER = re.compile(
    r"[-+]?(\.[0-9]|[0-9])[0-9_:.eE+-]*|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)|0[xob][0-9a-fA-F_]+"
)


@dataclass(slots=True)
class ExportedTenant:
    slug: str
    document: CommentedMap
    # Environment variables the user must set before planning (one per secret field).
    secrets: list[str] = field(default_factory=list)
    # The definition of the tenant's agreement, when it is in one that is known.
    agreement: Item | None = None
    env_prefix: str = DEFAULT_ENV_PREFIX

    def render(self, schema_dir: str = DEFAULT_SCHEMA_DIR) -> str:
        header = [f"yaml-language-server: $schema={schema_dir}/{TENANT_SCHEMA}"]
        header.append("Exported from the live configuration by `t4o-reconcile export`.")
        if self.secrets:
            header.append("Secrets are never exported; set these in the environment before plan:")
            header.extend(f"  {name}" for name in self.secrets)
        return _dump(self.document, header)


def secret_env_name(slug: str, *parts: str, prefix: str = DEFAULT_ENV_PREFIX) -> str:
    """``ok-skogen`` + ``eventor-norway`` + ``token`` →
    ``T4O_SECRET_OK_SKOGEN_EVENTOR_NORWAY_TOKEN``: under the operator's prefix, so that
    plan accepts the reference."""
    name = "_".join(re.sub(r"[^A-Za-z0-9]+", "_", p).strip("_").upper() for p in (slug, *parts))
    return f"{prefix}{name}"


def export_tenant(
    live: TenantSnapshot, agreements: Mapping[str, Item], env_prefix: str = DEFAULT_ENV_PREFIX
) -> ExportedTenant:
    """One live tenant as the document of its tenant file."""
    identity = _single(live, "identity")
    if identity is None:
        raise ExportError(f"{live.slug}: the live tenant has no identity (name, numbers)")
    doc = CommentedMap()
    doc["slug"] = live.slug
    exported = ExportedTenant(live.slug, doc, env_prefix=env_prefix)
    _identity(exported, identity.fields)
    if "agreement" in live.sections:
        membership = _single(live, "agreement")
        name = membership.fields.get("name") if membership is not None else None
        doc["agreement"] = _scalar("agreement", name)
        if name is not None:
            exported.agreement = agreements.get(name)
    for section in registry.each():
        if section.name in (registry.Identity.name, registry.AgreementMembership.name):
            continue  # written above, as top-level fields of the file
        items = live.sections.get(section.name)
        if items is not None:
            _section(exported, section, items)
    return exported


def _identity(exported: ExportedTenant, fields: Mapping[str, Any]) -> None:
    """The identity's fields: top-level keys of the tenant file."""
    doc = exported.document
    doc["name"] = _scalar("name", fields["name"])
    if fields.get("organization_number") is not None:
        doc["organization_number"] = _scalar("organization_number", fields["organization_number"])
    if fields.get("personal_number") is not None:
        # Personal data: live holds only a fingerprint, and the file gets a reference.
        env_name = secret_env_name(exported.slug, "personal", "number")
        if not env_name.startswith(SECRET_ENV_PREFIX):
            env_name = SECRET_ENV_PREFIX + env_name.removeprefix("T4O_")
        _secret_ref(doc, "personal_number", env_name)
        exported.secrets.append(env_name)
    if fields.get("state") == "pending":
        doc["state"] = "pending"  # active is what a file that leaves state out gets
    if fields.get("user_administration") == "owner":
        doc["user_administration"] = "owner"  # admins is what a file leaving it out gets
    for part in ("contact", "address"):
        if fields.get(part):
            doc[part] = _mapping(fields[part], list(fields[part]))


def _section(
    exported: ExportedTenant, section: registry.Section, items: Mapping[str, Item]
) -> None:
    doc = exported.document
    if not section.deletable:
        # The tenant's settings (defaults, billing, invoicing): always there.
        if "" in items:
            written = _mapping(items[""].fields, _writable(section))
            for name, missing in section.missing_means.items():
                # What a file that leaves it out gets (billing's program access).
                if not isinstance(missing, Mapping) and written.get(name) == missing:
                    del written[name]
            for name in section.floors:
                if name in written:
                    # Live's counter as the floor: it moves on with use, never a change.
                    written.yaml_add_eol_comment(
                        "a floor: the product moves it on with use; plan never lowers it", name
                    )
            doc[section.name] = written
    elif section.singleton:
        item = items.get("")
        # None: managed, and none configured (the system email account).
        doc[section.name] = None if item is None else _item(exported, section, "", item)
    else:
        doc[section.name] = CommentedSeq(
            _item(exported, section, key, items[key]) for key in sorted(items)
        )


def _writable(section: registry.Section) -> list[str]:
    return [name for name in section.fields if name not in section.read_only]


def _item(
    exported: ExportedTenant, section: registry.Section, key: str, item: Item
) -> CommentedMap:
    """One item as the file writes it: a secret as a reference, a value the file may
    leave out (a program without rights, a false opt-in) left out."""
    out = CommentedMap()
    for name in _writable(section):
        if name in section.secret_fields:
            parts = section.secret_env_parts(key, name)
            env_name = secret_env_name(exported.slug, *parts, prefix=exported.env_prefix)
            _secret_ref(out, name, env_name)
            exported.secrets.append(env_name)
            continue
        value = item.fields.get(name)
        missing = section.missing_means.get(name)
        if isinstance(missing, Mapping):
            given = value if isinstance(value, Mapping) else {}
            kept = {k: v for k, none in missing.items() if (v := given.get(k, none)) != none}
            if kept:
                out[name] = CommentedMap(kept)
        elif value is not None and not (missing is not None and value == missing):
            out[name] = _scalar(name, value)
    return out


def write_export(
    snapshots: Iterable[TenantSnapshot],
    agreements: Mapping[str, Item] | None,
    out_dir: Path,
    *,
    force: bool,
    env_prefix: str = DEFAULT_ENV_PREFIX,
) -> list[Path]:
    """Write ``<slug>.yaml`` per tenant and merge ``agreements`` into ``_agreements.yaml``.

    Refuses (``ExportError``, naming every file) to overwrite an existing tenant file or
    to change an agreement an existing ``_agreements.yaml`` defines otherwise, unless
    ``force``. Checks everything before writing anything; each file is written atomically.
    """
    out_dir = Path(out_dir)
    known = dict(agreements or {})
    snapshots = list(snapshots)
    refused = [problem for s in snapshots if (problem := _slug_problem(s.slug))]
    refused += [p for name in known for p in _agreement_problems(name, known[name])]
    if refused:
        raise ExportError(_hostile(refused))
    tenants = [export_tenant(snapshot, known, env_prefix) for snapshot in snapshots]
    defaults = _read_defaults(out_dir)
    for tenant in tenants:
        pin_unset_defaults(tenant.document, defaults)
    schema_dir = schema_dir_for(out_dir)

    pending: list[tuple[Path, str]] = []
    clashes: list[str] = []
    for tenant in tenants:
        path = out_dir / f"{tenant.slug}.yaml"
        text = tenant.render(schema_dir)
        # What the API sent becomes YAML only when it reads back as a valid tenant file.
        refused += _document_problems(tenant.slug, text)
        if path.exists() and not force:
            clashes.append(f"{path} already exists")
        pending.append((path, text))
    if refused:
        raise ExportError(_hostile(refused))
    if known:
        path = out_dir / AGREEMENTS_FILE
        merged, conflicts = _merged_agreements(path, known, schema_dir, force=force)
        clashes.extend(conflicts)
        if merged is not None:
            pending.append((path, merged))
    if clashes:
        raise ExportError(
            "nothing was exported: "
            + "; ".join(clashes)
            + " (export again with --force to overwrite)"
        )

    out_dir.mkdir(parents=True, exist_ok=True)
    for path, text in pending:
        write_atomically(path, text)
    return [path for path, _ in pending]


def _read_defaults(out_dir: Path) -> Any:
    """The repository's ``_defaults.yaml`` as plain data, or None."""
    for suffix in (".yaml", ".yml"):
        path = out_dir / f"{DEFAULTS_STEM}{suffix}"
        if path.is_file():
            try:
                return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
            except (YAMLError, OSError, UnicodeDecodeError) as exc:
                raise ExportError(
                    f"nothing was exported: {path} cannot be read ({exc}); fix it or export"
                    " into another folder"
                ) from None
    return None


def pin_unset_defaults(document: dict[str, Any], defaults: Any) -> None:
    """A field the live tenant does not set is left out of its file, but a value in
    _defaults.yaml would then fill it in and plan would show a change: write it as an
    explicit null instead (the tenant file wins over _defaults.yaml)."""
    if not isinstance(defaults, dict):
        return
    for key, inherited in defaults.items():
        if key == "safety":
            continue  # the tool's own setting, not a value of the tenant
        mine = document.get(key)
        if isinstance(mine, dict) and isinstance(inherited, dict):
            for name, value in inherited.items():
                if name not in mine and value is not None:
                    mine[name] = None
                elif isinstance(mine.get(name), dict) and isinstance(value, dict):
                    pin_unset_defaults(mine, {name: value})


def _slug_problem(slug: object) -> str | None:
    """A slug becomes a file name: only the configuration's own slug shape is accepted."""
    if isinstance(slug, str) and re.fullmatch(SLUG_PATTERN, slug):
        return None
    return f"tenant slug {_shown(slug)}: expected a slug (lower-case letters, digits and '-')"


def _agreement_problems(name: str, item: Item) -> list[str]:
    try:
        Agreement.model_validate(
            {"name": name, "customer_number": item.fields.get("customer_number")}
        )
    except ValidationError as exc:
        return [
            f"agreement {_shown(name)}: {'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors()
        ]
    return []


def _document_problems(slug: str, text: str) -> list[str]:
    """Every reason the exported text is not a valid tenant file."""
    try:
        data = parse(text)
    except YAMLSyntax as exc:
        return [f"tenant {slug}: the export would not be valid YAML ({exc.error.message})"]
    try:
        Tenant.model_validate(data)
    except ValidationError as exc:
        return [f"tenant {slug}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
    return []


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


def _hostile(problems: list[str]) -> str:
    listed = "; ".join(problems[:10])
    more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
    return "nothing was exported: the API sent values a tenant file cannot hold: " + listed + more


def schema_dir_for(out_dir: Path) -> str:
    """The repository's ``schemas/`` relative to ``out_dir``: the nearest one found going
    up from it (stopping at a Git root), else ``DEFAULT_SCHEMA_DIR``."""
    start = Path(out_dir).resolve()
    for folder in (start, *start.parents):
        if (folder / "schemas").is_dir():
            return Path(os.path.relpath(folder / "schemas", start)).as_posix()
        if (folder / ".git").exists():
            break
    return DEFAULT_SCHEMA_DIR


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private; a tenant file is as readable as the old one.
        os.chmod(temporary, stat.S_IMODE(path.stat().st_mode) if path.exists() else 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _single(live: TenantSnapshot, section: str) -> Item | None:
    return live.sections.get(section, {}).get("")


def _scalar(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if name in _ALWAYS_QUOTED or value.lower() in _YAML11_WORDS or _YAML11_NUMBER.fullmatch(value):
        return DoubleQuotedScalarString(value)
    if "\n" in value and not value[:1].isspace() and "\t" not in value:
        return LiteralScalarString(value)
    return value


def _mapping(fields: Mapping[str, Any], names: list[str]) -> CommentedMap:
    """The named fields in that order; a None is left out (the loader then leaves the
    field unmanaged, which matches a live value that is not set)."""
    out = CommentedMap()
    for name in names:
        value = fields.get(name)
        if value is not None:
            out[name] = _scalar(name, value)
    return out


def _secret_ref(owner: CommentedMap, key: str, env_name: str) -> None:
    # Quoted: libyaml (the C loader) rejects a plain "env:NAME" inside a flow mapping.
    ref = CommentedMap(secret=DoubleQuotedScalarString(f"env:{env_name}"))
    ref.fa.set_flow_style()
    owner[key] = ref
    owner.yaml_add_eol_comment(f"set {env_name} in the environment", key)


def _merged_agreements(
    path: Path, agreements: Mapping[str, Item], schema_dir: str, *, force: bool
) -> tuple[str | None, list[str]]:
    """The agreements file with ``agreements`` merged in (existing entries and comments
    kept), and the conflicts that need ``force``. None: nothing to change."""
    yaml = _yaml()
    document: Any = None
    if path.exists():
        try:
            document = yaml.load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, YAMLError) as exc:
            raise ExportError(
                f"{path}: cannot be read to merge agreements into it: {exc}"
            ) from None
    if document is None:
        document = CommentedMap()
    if not isinstance(document, CommentedMap):
        raise ExportError(f"{path}: expected a mapping with an 'agreements' list")
    if document.get("agreements") is None:
        document["agreements"] = CommentedSeq()
    entries = document["agreements"]
    if not isinstance(entries, CommentedSeq):
        raise ExportError(f"{path}: expected 'agreements' to be a list of agreements")
    by_name = {
        str(entry.get("name")): entry for entry in entries if isinstance(entry, CommentedMap)
    }
    conflicts: list[str] = []
    changed = not path.exists()
    for name in sorted(agreements):
        live_number = agreements[name].fields.get("customer_number")
        entry = by_name.get(name)
        if entry is None:
            entries.append(
                _mapping(
                    {"name": name, "customer_number": live_number}, ["name", "customer_number"]
                )
            )
            changed = True
        elif live_number is not None and str(entry.get("customer_number")) != live_number:
            if not force:
                conflicts.append(
                    f"{path}: agreement {name!r} has customer_number"
                    f" {entry.get('customer_number')!r} but live has {live_number!r}"
                )
            entry["customer_number"] = _scalar("customer_number", live_number)
            changed = True
    if not changed:
        return None, conflicts
    header = (
        [] if path.exists() else [f"yaml-language-server: $schema={schema_dir}/{AGREEMENTS_SCHEMA}"]
    )
    return _dump(document, header), conflicts


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.version = None
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    yaml.preserve_quotes = True
    yaml.representer.add_representer(type(None), _represent_null)
    return yaml


def _represent_null(representer: RoundTripRepresenter, _: None) -> Any:
    # Round-trip dumping writes None as an empty value; "null" says it on purpose.
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _dump(document: CommentedMap, header: list[str]) -> str:
    if header:
        document.yaml_set_start_comment("\n".join(header))
    stream = io.StringIO()
    _yaml().dump(document, stream)
    return stream.getvalue()
