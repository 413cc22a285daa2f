"""The saved plan (``plan --out``): JSON Lines, a tenant a line, optionally sealed.

Line 1 is the header: the plan document without its tenants (``document.plan_head``),
with the file's own fields (``kind``, the digests, versions, ``tool_version``,
``tenant_count``). Then one line per tenant (``document.tenant_line``), then, when the
plan was saved with a key, the seal: ``{"seal": {"alg": "hmac-sha256", "mac": HEX}}``,
an HMAC-SHA256 over every byte before it. Each line is read with the standard JSON
decoder, within the bounds of ``PlanFileLimits``: a plan file is untrusted input (anyone
who can push a branch can upload one).

No secret value is ever written: a secret is kept as ``{"sensitive": true, "source":
"env:NAME"}`` and loads back as a ``SavedSecret``; apply re-resolves it from the
configuration whose digest matches.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

from t4o_reconcile import __version__
from t4o_reconcile.engine.document import (
    action_from_document,
    as_dict,
    as_list,
    as_str,
    error_from_document,
    plan_head,
    tenant_from_document,
)
from t4o_reconcile.engine.plan import AgreementUsers, Plan
from t4o_reconcile.engine.planstore import TenantStore
from t4o_reconcile.engine.sensitive import as_plan_file
from t4o_reconcile.errors import PlanFileError

PLAN_FILE_KIND = "t4o-reconcile-plan"
# 3: the header records the plan's scope; 2: JSON Lines (1 was one indented JSON
# document).
FILE_FORMAT_VERSION = 3
SEAL_ALG = "hmac-sha256"


@dataclass(frozen=True, slots=True)
class PlanFileLimits:
    """What a plan file may hold. A creating plan of 10,000 tenants is about 200 MB, its
    longest line (a tenant) tens of KB, its deepest value a dozen levels, its longest
    string below a tenant file's own limit (1 MiB), its numbers counts and audit ids;
    each bound is far above that and far below what hurts. A line is read only up to
    its bound, so no line costs more memory than that."""

    file_bytes: int = 4 * 2**30
    line_bytes: int = 16 * 2**20
    depth: int = 64
    string_chars: int = 2 * 2**20
    number_chars: int = 32


LIMITS = PlanFileLimits()


def save_plan(plan: Plan, path: Path, *, key: bytes | None) -> None:
    """Write the plan atomically (a reader sees the old file or the new one, never
    half), a tenant at a time; with ``key``, sealed (see the module)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            mac = None if key is None else hmac.new(key, digestmod=hashlib.sha256)
            for line in iter_plan_file(plan):
                handle.write(line)
                if mac is not None:
                    mac.update(line)
            if mac is not None:
                handle.write(seal_line(mac.hexdigest()))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def seal_line(mac: str) -> bytes:
    seal = {"seal": {"alg": SEAL_ALG, "mac": mac}}
    return json.dumps(seal, sort_keys=True, separators=(",", ":")).encode() + b"\n"


def iter_plan_file(plan: Plan) -> Iterator[bytes]:
    """The plan file's lines, without the seal: the header, then each tenant's."""
    yield _header_line(plan)
    yield from plan.tenants.lines()


def _header_line(plan: Plan) -> bytes:
    head = plan_head(plan, secret=as_plan_file)
    head["format_version"] = FILE_FORMAT_VERSION
    head["kind"] = PLAN_FILE_KIND
    head["tool_version"] = plan.tool_version
    head["tenant_count"] = len(plan.tenants)
    head["config_digest"] = plan.config_digest
    head["reference_digest"] = plan.reference_digest
    head["agreement_versions"] = dict(plan.agreement_versions)
    head["only"] = plan.only
    # What the plan covered, for the merge job to compare within: scoped or not, the
    # commit the change was measured from, the tenants planned (``only``, with those
    # without changes) and leaving, and whether the agreements were planned whole.
    head["scope"] = {
        "scoped": plan.only is not None,
        "base": plan.base,
        "tenants": plan.only,
        "leaving": list(plan.leaving),
        "agreements": plan.agreements_in_scope,
    }
    head["delete_unmanaged"] = plan.delete_unmanaged
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode() + b"\n"
    except UnicodeEncodeError:  # a lone surrogate from an answer: kept escaped
        return json.dumps(head, separators=(",", ":")).encode() + b"\n"


def load_plan(
    path: Path,
    *,
    key: bytes | None,
    require_seal: bool,
    limits: PlanFileLimits = LIMITS,
) -> Plan:
    """The plan saved in ``path``, read a line at a time into a ``TenantStore`` (so a
    plan of 10,000 tenants loads in bounded memory). Anything that is not a plan file
    within ``limits`` is one ``PlanFileError`` naming the line and column.

    With ``require_seal`` the seal is checked with ``key`` in a first pass over the raw
    bytes, before anything is parsed, and again over the bytes parsed. A plan loaded as a
    record (``require_seal`` false) may lack a seal; one it has is checked when ``key``
    is given."""
    path = Path(path)
    if require_seal and key is None:
        raise PlanFileError(f"{path}: no key to check the plan's seal with")
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size > limits.file_bytes:
                raise PlanFileError(
                    f"{path}: expected a plan file of at most {limits.file_bytes} bytes,"
                    f" found {size} bytes"
                )
            if require_seal:
                assert key is not None  # checked above
                _check_seal(_Lines(handle, path, limits), key)
                handle.seek(0)
            return _Reader(_Lines(handle, path, limits), key, require_seal).plan()
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file: {exc.strerror}") from None


def check_tool_version(plan: Plan, path: Path) -> None:
    """A plan is applied only by the version that made it: another version may plan,
    order or write differently from what was reviewed."""
    if plan.tool_version != __version__:
        raise PlanFileError(
            f"{path}: the plan was made by t4o-reconcile {plan.tool_version}, this is"
            f" {__version__}; make the plan again with this version"
        )


_MISMATCH = "the plan's seal does not match: it was edited, or made with another key"


def _check_seal(lines: _Lines, key: bytes) -> None:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    last: bytes | None = None
    for raw in lines:
        if last is not None:
            mac.update(last)
        last = raw
    if last is None or not last.startswith(b'{"seal"'):
        lines.fail_file("the plan has no seal: apply needs a plan saved with the plan key")
    found = _parse(last, lines.path, lines.number, lines.limits)
    seal = found.get("seal") if isinstance(found, dict) and len(found) == 1 else None
    if not isinstance(seal, dict) or seal.get("alg") != SEAL_ALG:
        lines.fail(1, f'expected the seal {{"seal": {{"alg": "{SEAL_ALG}", "mac": HEX}}}}')
    given = seal.get("mac")
    if not isinstance(given, str) or not hmac.compare_digest(given, mac.hexdigest()):
        lines.fail_file(_MISMATCH)


class _Lines:
    """The file's lines as bytes, each at most ``limits.line_bytes`` and ended by a
    newline, counted from 1."""

    def __init__(self, handle: IO[bytes], path: Path, limits: PlanFileLimits) -> None:
        self.handle = handle
        self.path = path
        self.limits = limits
        self.number = 0

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        raw = self.handle.readline(self.limits.line_bytes + 1)
        if not raw:
            raise StopIteration
        self.number += 1
        if not raw.endswith(b"\n"):
            if len(raw) > self.limits.line_bytes:
                self.fail(
                    self.limits.line_bytes + 1,
                    f"expected a line of at most {self.limits.line_bytes} bytes",
                )
            self.fail(len(raw) + 1, "expected the line to end with a newline (cut short?)")
        return raw

    def fail(self, column: int, message: str) -> NoReturn:
        raise PlanFileError(f"{self.path}:{self.number}:{column}: {message}")

    def fail_file(self, message: str) -> NoReturn:
        raise PlanFileError(f"{self.path}: {message}")


class _Reader:
    def __init__(self, lines: _Lines, key: bytes | None, require_seal: bool) -> None:
        self.lines = lines
        self.key = key
        self.require_seal = require_seal
        self.mac = None if key is None else hmac.new(key, digestmod=hashlib.sha256)

    def _next(self) -> bytes | None:
        raw = next(self.lines, None)
        return raw

    def _parse(self, raw: bytes) -> Any:
        return _parse(raw, self.lines.path, self.lines.number, self.lines.limits)

    def plan(self) -> Plan:
        lines = self.lines
        first = self._next()
        if first is None:
            lines.fail_file("expected a plan file written by 'plan --out', found an empty file")
        if first.strip() == b"{":
            lines.fail(
                1,
                "expected a plan file in JSON Lines (format 2); this looks like a plan made"
                " by an older version: make the plan again with this version",
            )
        header = self._parse(first)
        self._update(first)
        if not isinstance(header, dict) or header.get("kind") != PLAN_FILE_KIND:
            lines.fail(1, f"expected a plan file written by 'plan --out' (kind {PLAN_FILE_KIND!r})")
        if header.get("format_version") != FILE_FORMAT_VERSION:
            lines.fail(
                1,
                f"expected format_version {FILE_FORMAT_VERSION}, found"
                f" {header.get('format_version')!r}; make the plan again with this version",
            )
        count = header.get("tenant_count")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            lines.fail(1, "expected tenant_count, a count of the tenant lines")
        store = TenantStore()
        try:
            for _ in range(count):
                raw = self._next()
                if raw is None:
                    lines.fail_file(
                        f"expected {count} tenant lines as the header says, found"
                        f" {len(store)}: the file is cut short"
                    )
                self._tenant(raw, store)
                self._update(raw)
            self._end()
            try:
                return _plan(header, store)
            except (KeyError, TypeError, ValueError) as exc:
                lines.number = 1
                lines.fail(1, f"expected a plan file's header: {_what(exc)}")
        except BaseException:
            store.close()
            raise

    def _tenant(self, raw: bytes, store: TenantStore) -> None:
        entry = self._parse(raw)
        try:
            if not isinstance(entry, dict):
                raise TypeError("expected an object")
            tenant = tenant_from_document(entry)
            for action in tenant.actions:
                if action.tenant != tenant.slug:
                    raise ValueError(f"{action.address} is not an action of tenant {tenant.slug!r}")
        except (KeyError, TypeError, ValueError) as exc:
            self.lines.fail(1, f"expected a tenant of the plan: {_what(exc)}")
        if store.position(tenant.slug) is not None:
            self.lines.fail(1, f"tenant {tenant.slug!r} appears twice")
        store.add_line(tenant, raw)

    def _end(self) -> None:
        raw = self._next()
        if raw is None:
            if self.require_seal:  # the first pass saw one: the file changed since
                self.lines.fail_file(_MISMATCH)
            return
        found = self._parse(raw)
        seal = found.get("seal") if isinstance(found, dict) and len(found) == 1 else None
        if not isinstance(seal, dict) or set(seal) != {"alg", "mac"}:
            self.lines.fail(1, "expected the end of the plan, or its seal")
        if self.mac is not None and not hmac.compare_digest(
            str(seal.get("mac")), self.mac.hexdigest()
        ):
            self.lines.fail_file(_MISMATCH)
        if self._next() is not None:
            self.lines.fail(1, "expected the end of the plan after its seal")

    def _update(self, raw: bytes) -> None:
        if self.mac is not None:
            self.mac.update(raw)


def _what(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"{exc.args[0]!r} is missing"
    return str(exc) or type(exc).__name__


# -- one line, parsed within the limits ---------------------------------------------------


class _Refused(ValueError):
    def __init__(self, message: str, needle: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.needle = needle


def _parse(raw: bytes, path: Path, number: int, limits: PlanFileLimits) -> Any:
    def fail(column: int, message: str) -> NoReturn:
        raise PlanFileError(f"{path}:{number}:{column}: {message}")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        fail(exc.start + 1, "expected UTF-8 text, found an invalid byte")
    try:
        value = _decoder(limits).decode(text)
    except json.JSONDecodeError as exc:
        fail(exc.colno, f"expected JSON: {exc.msg}")
    except _Refused as exc:
        fail(_column_of(text, exc.needle), exc.message)
    except RecursionError:
        fail(
            _too_deep_at(text, limits.depth), f"expected values nested at most {limits.depth} deep"
        )
    except ValueError as exc:  # e.g. a number Python will not convert
        fail(1, f"expected JSON: {exc}")
    problem = _check(value, limits)
    if problem is not None:
        message, needle = problem
        if needle == "depth":
            fail(_too_deep_at(text, limits.depth), message)
        if needle == "surrogate":
            found = _LONE_SURROGATE.search(text)
            fail(found.start() + 1 if found else 1, message)
        fail(_column_of(text, needle), message)
    return value


def _decoder(limits: PlanFileLimits) -> json.JSONDecoder:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for name, value in items:
            if name in found:
                raise _Refused(f"expected each key once, found {name!r} twice", json.dumps(name))
            found[name] = value
        return found

    def integer(text: str) -> int:
        if len(text) > limits.number_chars:
            raise _Refused(f"expected a number of at most {limits.number_chars} digits", text[:32])
        return int(text)

    def real(text: str) -> float:
        if len(text) > limits.number_chars:
            raise _Refused(f"expected a number of at most {limits.number_chars} digits", text[:32])
        number = float(text)
        if not math.isfinite(number):
            raise _Refused("expected a finite number", text)
        return number

    def constant(text: str) -> Any:
        raise _Refused(f"expected JSON, found {text}", text)

    return json.JSONDecoder(
        object_pairs_hook=pairs, parse_int=integer, parse_float=real, parse_constant=constant
    )


_SURROGATE = re.compile("[\ud800-\udfff]")
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _check(value: Any, limits: PlanFileLimits) -> tuple[str, str] | None:
    """What in a parsed line breaks the limits the decoder cannot hold: its depth, a
    string's length, a lone surrogate (``\\ud800`` is valid JSON, but no text)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if len(item) > limits.string_chars:
                return (
                    f"expected a string of at most {limits.string_chars} characters",
                    json.dumps(item[:16], ensure_ascii=False)[:-1],
                )
            if not item.isascii() and _SURROGATE.search(item):
                return "expected text, found a lone surrogate (\\ud800 to \\udfff)", "surrogate"
        elif isinstance(item, dict | list):
            if depth > limits.depth:
                return f"expected values nested at most {limits.depth} deep", "depth"
            children = item.items() if isinstance(item, dict) else ((None, v) for v in item)
            for name, child in children:
                if name is not None:
                    stack.append((name, depth))
                if isinstance(child, str | dict | list):
                    stack.append((child, depth + 1))
    return None


def _column_of(text: str, needle: str) -> int:
    if not needle:
        return 1
    first = text.find(needle)
    if first < 0:
        return 1
    second = text.find(needle, first + 1)  # a duplicate key: the second one
    return (second if second >= 0 and needle.startswith('"') else first) + 1


def _too_deep_at(text: str, limit: int) -> int:
    """The column where ``text`` opens its value ``limit + 1`` deep."""
    depth, in_string, escaped = 0, False, False
    for column, char in enumerate(text, start=1):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return column
        elif char in "]}":
            depth -= 1
    return 1


def _plan(document: dict[str, Any], tenants: TenantStore) -> Plan:
    targeted = document["targeted"] or {}
    if not isinstance(targeted, dict):
        raise TypeError("targeted")
    only = document.get("only")
    if only is not None:
        only = [as_str(slug) for slug in as_list(only)]
    scope = as_dict(document["scope"])
    agreements_in_scope = scope["agreements"]
    if not isinstance(agreements_in_scope, bool):
        raise TypeError("expected scope.agreements, true or false")
    if scope["scoped"] is not (only is not None) or scope["tenants"] != only:
        raise ValueError("scope.tenants must be the plan's only")
    return Plan(
        target=as_str(document["target"]),
        tenants=tenants,
        agreement_actions=[action_from_document(a) for a in as_list(document["agreement_actions"])],
        agreement_versions={
            as_str(k): as_str(v) for k, v in as_dict(document.get("agreement_versions", {})).items()
        },
        unmanaged_tenants=[as_str(s) for s in as_list(document["unmanaged_tenants"])],
        agreement_users=[_users(u) for u in as_list(document["agreement_users"])],
        errors=[error_from_document(e) for e in as_list(document["errors"])],
        config_digest=as_str(document.get("config_digest", "")),
        reference_digest=as_str(document["reference_digest"]),
        only=only,
        delete_unmanaged=document.get("delete_unmanaged", False) is True,
        plan_id=as_str(document["plan_id"]),
        endpoint=as_str(document["endpoint"]),
        identity=None if document["identity"] is None else as_str(document["identity"]),
        deletes_approved=document["deletes_approved"] is True,
        commit=None if document["commit"] is None else as_str(document["commit"]),
        changed_since=None
        if targeted.get("changed_since") is None
        else as_str(targeted["changed_since"]),
        skipped_tenants=_count(targeted.get("skipped", 0)),
        leaving=[as_str(s) for s in as_list(document["leaving_management"])],
        tool_version=as_str(document["tool_version"]),
        base=None if scope["base"] is None else as_str(scope["base"]),
        agreements_in_scope=agreements_in_scope,
        kept_outside=[as_str(s) for s in as_list(document["kept_outside"])],
    )


def _users(entry: Any) -> AgreementUsers:
    entry = as_dict(entry)
    return AgreementUsers(
        agreement=as_str(entry["agreement"]),
        before=_count(entry["before"]),
        after=_count(entry["after"]),
        pending_before=_count(entry.get("pending_before", 0)),
        pending_after=_count(entry.get("pending_after", 0)),
        partial=entry.get("partial", False) is True,
    )


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"expected a count, found {value!r}")
    return value
