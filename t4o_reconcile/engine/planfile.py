"""The saved plan (``plan --out``): the JSON plan plus versions and the config digest.

No secret value is ever written: a secret is kept as ``{"sensitive": true, "source":
"env:NAME"}`` and loads back as a ``SavedSecret``; apply re-resolves it from the
configuration whose digest matches.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from t4o_reconcile.engine.document import FORMAT_VERSION, iter_json, plan_head, tenant_document
from t4o_reconcile.engine.plan import (
    PACK_FROM,
    Action,
    AgreementUsers,
    Attribution,
    Packer,
    Plan,
    PlanError,
    TenantPlan,
)
from t4o_reconcile.engine.sensitive import as_plan_file, from_json
from t4o_reconcile.errors import PlanFileError
from t4o_reconcile.jsonstream import StreamError, read_object

PLAN_FILE_KIND = "t4o-reconcile-plan"


def save_plan(plan: Plan, path: Path) -> None:
    """Write the plan atomically: a reader sees the old file or the new one, never half.
    It is written a tenant at a time, never held whole as a document or as text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for piece in iter_plan_file(plan):
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def iter_plan_file(plan: Plan) -> Iterator[str]:
    """The plan file's text in pieces: ``json.dumps(document, sort_keys=True, indent=2,
    ensure_ascii=False)`` and a newline, the document made a tenant at a time."""
    head = plan_head(plan, secret=as_plan_file)
    head["kind"] = PLAN_FILE_KIND
    head["config_digest"] = plan.config_digest
    head["reference_digest"] = plan.reference_digest
    head["plan_id"] = plan.plan_id
    head["agreement_versions"] = dict(plan.agreement_versions)
    head["only"] = plan.only
    head["delete_unmanaged"] = plan.delete_unmanaged

    def tenants() -> Iterator[dict[str, Any]]:
        for tenant in plan.tenants:
            entry = tenant_document(tenant, as_plan_file)
            entry["versions"] = dict(tenant.versions)
            entry["uncompared"] = list(tenant.uncompared)
            yield entry

    yield from iter_json(head, tenants(), indent=2)
    yield "\n"


def load_plan(path: Path) -> Plan:
    """The plan saved in ``path``, read a tenant at a time: the parsed JSON of one tenant
    is held at once, and the tenants' actions beyond ``PACK_FROM`` are kept packed, so a
    plan of 10,000 tenants loads in bounded memory."""
    path = Path(path)
    tenants = _Tenants()
    try:
        with path.open(encoding="utf-8") as handle:
            document = read_object(handle, {"tenants": tenants.add})
    except OSError as exc:
        raise PlanFileError(f"{path}: cannot read the plan file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise PlanFileError(f"{path}: expected a JSON plan file, which is UTF-8 text") from None
    except StreamError as exc:
        raise PlanFileError(
            f"{path}:{exc.line}:{exc.column}: expected a JSON plan file: {exc.message}"
        ) from None
    if document.get("kind") != PLAN_FILE_KIND:
        raise PlanFileError(
            f"{path}: expected a plan file written by 'plan --out' (kind {PLAN_FILE_KIND!r})"
        )
    if document.get("format_version") != FORMAT_VERSION:
        raise PlanFileError(
            f"{path}: expected format_version {FORMAT_VERSION}, found"
            f" {document.get('format_version')!r}; make the plan again with this version"
        )
    try:
        if tenants.failed is not None:
            raise tenants.failed
        return _plan(document)
    except (KeyError, TypeError, AttributeError) as exc:
        raise PlanFileError(f"{path}: malformed plan file ({exc!r} missing or wrong)") from None


class _Tenants:
    """Each tenant of the file as a ``TenantPlan`` as soon as it is read. A tenant that is
    not one is remembered, and the rest are skipped: whether the file is a plan file at
    all is known only at its end, and is what the reader is told first."""

    def __init__(self) -> None:
        self.failed: Exception | None = None
        self._packer = Packer(PACK_FROM)

    def add(self, entry: Any) -> TenantPlan | None:
        if self.failed is not None:
            return None
        try:
            tenant = _tenant(entry)
        except (KeyError, TypeError, AttributeError) as exc:
            self.failed = exc
            return None
        self._packer.hold(tenant)
        return tenant


def _tenant(entry: dict[str, Any]) -> TenantPlan:
    return TenantPlan(
        slug=entry["slug"],
        actions=[_action(a) for a in entry["actions"]],
        errors=[_error(e) for e in entry["errors"]],
        deletes_need_flag=list(entry["deletes_need_flag"]),
        versions=dict(entry.get("versions", {})),
        source=entry.get("source"),
        uncompared=[str(u) for u in entry.get("uncompared", [])],
    )


def _plan(document: dict[str, Any]) -> Plan:
    return Plan(
        target=document["target"],
        tenants=document["tenants"],
        agreement_actions=[_action(a) for a in document["agreement_actions"]],
        agreement_versions=dict(document.get("agreement_versions", {})),
        unmanaged_tenants=list(document["unmanaged_tenants"]),
        agreement_users=[
            AgreementUsers(
                agreement=u["agreement"],
                before=u["before"],
                after=u["after"],
                pending_before=u.get("pending_before", 0),
                pending_after=u.get("pending_after", 0),
            )
            for u in document["agreement_users"]
        ],
        errors=[_error(e) for e in document["errors"]],
        config_digest=document.get("config_digest", ""),
        reference_digest=str(document["reference_digest"]),
        only=document.get("only"),
        delete_unmanaged=bool(document.get("delete_unmanaged", False)),
        plan_id=str(document["plan_id"]),
        endpoint=str(document["endpoint"]),
        identity=document["identity"],
        deletes_approved=document["deletes_approved"] is True,
        commit=document["commit"],
        changed_since=(document["targeted"] or {}).get("changed_since"),
        skipped_tenants=int((document["targeted"] or {}).get("skipped", 0)),
        leaving=list(document["leaving_management"]),
    )


def _action(entry: dict[str, Any]) -> Action:
    kind = entry["action"]
    if kind not in ("create", "update", "delete", "move"):
        raise TypeError(f"action {kind!r}")
    return Action(
        tenant=entry["tenant"],
        section=entry["section"],
        key=entry["key"],
        kind=kind,
        before=from_json(entry["before"]),
        after=from_json(entry["after"]),
        changed_paths=list(entry["changed_paths"]) or (),
        sensitive_paths=list(entry["sensitive_paths"]) or (),
        reason=entry["reason"],
        version=entry["version"],
        drift=_drift(entry.get("drift")),
    )


def _drift(entry: Any) -> Attribution | None:
    if entry is None:
        return None
    token, client = entry["token"], entry["client"]
    return Attribution(
        at=str(entry["at"]),
        actor=str(entry["actor"]),
        token=None if token is None else str(token),
        client=None if client is None else str(client),
        change=str(entry["change"]),
        entry=int(entry["entry"]),
    )


def _error(entry: dict[str, Any]) -> PlanError:
    return PlanError(address=entry["address"], message=entry["message"], source=entry["source"])
