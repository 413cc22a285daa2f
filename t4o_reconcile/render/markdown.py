"""The plan as a pull-request comment, whole: numbered parts when it is too big for one.

- Each action is a fenced ``diff`` block: GitHub colours ``+`` and ``-`` lines, and a
  renderer that strips raw HTML still shows the block (only the ``<details>`` around it
  goes). Inside a fence nothing is markup, so values are shown as written; the fence is
  longer than any run of backticks in it, so no value can close it.
- Everything outside a fence goes through ``escape.markdown``: characters with a meaning
  in Markdown or HTML become numeric character references, so a tenant named ``<script>``
  or ``| * _`` renders as written in prose, table cells and raw HTML alike; inside a fence
  or a code span, ``escape.terminal``. Either way invisible and bidirectional characters
  show as ``\\u202e`` (``render.escape``).
- Each part starts with a hidden marker (``<!-- t4o-reconcile:plan part=1/3 … -->``) so a
  workflow finds and updates its own comments; the first part has the summary, the plan id
  and commit, then errors, deletes and tenants leaving management before anything else.
  The plan id in it goes through ``escape.comment_value``: a plan file's id cannot close
  the comment.
- No truncation: tenants are packed in order into parts below ``MAX_CHARS`` (GitHub's
  limit is 65,536), every tenant in exactly one part; a tenant too big for one part is cut
  into numbered pieces between actions.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import jinja2

from t4o_reconcile.engine.callouts import called_out_paths
from t4o_reconcile.engine.plan import Action, Plan
from t4o_reconcile.render.approval import CLI, Approval
from t4o_reconcile.render.common import (
    PARTIAL_ACCESSES,
    PARTIAL_NOTE,
    accesses_shown,
    callout_text,
    drift_text,
    error_count,
    field_lines,
    summary_line,
    target_text,
    tenant_counts,
    uncompared_changed_first,
)
from t4o_reconcile.render.escape import code_span, comment_value, markdown, terminal

MAX_CHARS = 65_000
MARKER = "<!-- t4o-reconcile:plan"
_ROW_CAP = 100  # summary table rows before "and N more" (each tenant still has its block)
_LIST_CAP = 50  # errors, flagged and unmanaged tenants listed in the summary
_PART_HEAD_ROOM = 400  # the header of a later part, with room to spare

_BACKTICKS = re.compile(r"`+")

escape = markdown  # the name the renderers and their tests know


class Raw(str):
    """Already safe (a fenced block built here): the templates print it as it is."""

    __slots__ = ()


def _finalize(value: Any) -> str:
    return str(value) if isinstance(value, Raw) else escape(value)


def _code(value: Any) -> Raw:
    return Raw(code_span(value))


_env = jinja2.Environment(
    loader=jinja2.PackageLoader("t4o_reconcile.render", "templates"),
    autoescape=False,  # Markdown, not HTML: ``escape`` handles both
    finalize=_finalize,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)
_env.filters["code"] = _code


def render_markdown(plan: Plan, *, max_chars: int = MAX_CHARS, approval: Approval = CLI) -> str:
    """The whole comment: its parts one after the other (one part for most plans)."""
    return "".join(iter_markdown(plan, max_chars=max_chars, approval=approval))


def iter_markdown(
    plan: Plan, *, max_chars: int = MAX_CHARS, approval: Approval = CLI
) -> Iterator[str]:
    """``render_markdown`` in pieces, never held whole (see ``_pieces``)."""
    current = 1
    for number, piece in _pieces(plan, max_chars=max_chars, approval=approval):
        if number != current:
            yield "\n"
            current = number
        yield piece


def write_comment_parts(
    plan: Plan, folder: Path, *, max_chars: int = MAX_CHARS, approval: Approval = CLI
) -> list[Path]:
    """``part-001.md``, ``part-002.md``, … in ``folder``; old parts there are removed."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("part-*.md"):
        old.unlink()
    written: list[Path] = []
    pieces = _pieces(plan, max_chars=max_chars, approval=approval)
    for number, group in itertools.groupby(pieces, key=_number):
        path = folder / f"part-{number:03d}.md"
        with path.open("w", encoding="utf-8") as handle:
            handle.writelines(piece for _, piece in group)
        written.append(path)
    return written


def comment_parts(plan: Plan, *, max_chars: int = MAX_CHARS, approval: Approval = CLI) -> list[str]:
    pieces = _pieces(plan, max_chars=max_chars, approval=approval)
    return [
        "".join(piece for _, piece in group) for _, group in itertools.groupby(pieces, key=_number)
    ]


def _number(numbered: tuple[int, str]) -> int:
    return numbered[0]


# Rendered blocks kept between the two passes up to this size (a creating plan of 1,000
# tenants is 10 MB); a bigger plan renders its blocks again rather than hold them all.
_KEEP_BLOCKS = 16_000_000


def _pieces(plan: Plan, *, max_chars: int, approval: Approval) -> Iterator[tuple[int, str]]:
    """The comment as (part number, text) pieces, in order. Every part's marker names the
    part count, so a first pass packs the blocks into parts by their lengths alone."""
    head = _env.get_template("head.md.j2").render(**_head_context(plan, approval))
    foot = _env.get_template("foot.md.j2").render(**_foot_context(plan))
    first_room = max_chars - len(head) - len(foot) - _PART_HEAD_ROOM
    later_room = max_chars - 2 * _PART_HEAD_ROOM
    if first_room < later_room // 4:
        raise ValueError("the summary alone does not fit in a comment")
    piece_room = min(first_room, later_room)
    counts, kept = _pack(_blocks(plan, piece_room, approval), first_room, later_room)
    blocks = iter(kept if kept is not None else _blocks(plan, piece_room, approval))
    total = len(counts)
    for number, count in enumerate(counts, start=1):
        marker = f"{MARKER} part={number}/{total} plan={comment_value(plan.plan_id)} -->\n"
        if number == 1:
            yield number, marker + head
        else:
            yield (
                number,
                marker
                + _env.get_template("part.md.j2").render(
                    number=number, total=total, plan_id=plan.plan_id, commit=_short(plan.commit)
                ),
            )
        for _ in range(count):
            yield number, next(blocks)
        if number == 1:
            yield number, foot
        if total > 1 and number < total:
            yield number, f"\n_Continued in part {number + 1} of {total}._\n"


def _pack(
    blocks: Iterable[str], first_room: int, later_room: int
) -> tuple[list[int], list[str] | None]:
    """How many blocks go in each part, in order, and the blocks themselves when they
    are small enough to keep for the second pass (None: render them again)."""
    counts = [0]
    kept: list[str] | None = []
    used = rendered = 0
    for block in blocks:
        room = first_room if len(counts) == 1 else later_room
        if counts[-1] and used + len(block) > room:
            counts.append(0)
            used = 0
        counts[-1] += 1
        used += len(block)
        rendered += len(block)
        if kept is not None:
            kept.append(block)
            if rendered > _KEEP_BLOCKS:
                kept = None
    return counts, kept


# Blocks --------------------------------------------------------------------------------


def _tenant_order(plan: Plan) -> list[int]:
    """The positions of the tenants shown: with errors first, then those whose deletes
    need approval, then the rest (ordered by the store's summaries, nothing read)."""
    return plan.tenants.failing_first(plan.tenants.shown())


def _blocks(plan: Plan, piece_room: int, approval: Approval) -> Iterable[str]:
    if plan.agreement_actions or plan.errors:
        yield from _block(
            title="Agreements",
            summary_tail="",
            open_=True,
            notes=[],
            actions=plan.agreement_actions,
            piece_room=piece_room,
        )
    for position in _tenant_order(plan):
        tenant = plan.tenants[position]
        counts = tenant_counts(tenant)
        tail = ", ".join(f"{n} to {kind}" for kind, n in counts.items() if n) or "no changes"
        if tenant.errors:
            tail += f" · ❌ {len(tenant.errors)} error(s)"
        if tenant.deletes_need_flag:
            tail += " · ✅ approved" if approval.approved_by else " · ⚠️ needs approval"
        notes = [f"❌ **{escape(e.address)}**: {escape(e.message)}" for e in tenant.errors]
        if tenant.deletes_need_flag:
            head = (
                f"✅ approved by {approval.by_markdown()}"
                if approval.approved_by
                else f"⚠️ needs approval ({approval.how_markdown()})"
            )
            notes.append(f"{head}: " + escape("; ".join(tenant.deletes_need_flag)))
        yield from _block(
            title=tenant.slug,
            summary_tail=Raw(tail),  # counts and our own words
            open_=bool(tenant.errors or tenant.deletes_need_flag),
            notes=notes,
            actions=tenant.actions,
            piece_room=piece_room,
        )


def _block(
    *,
    title: str,
    summary_tail: str,
    open_: bool,
    notes: list[str],
    actions: Sequence[Action],
    piece_room: int,
) -> list[str]:
    """One collapsible block; cut into numbered pieces between actions when it is bigger
    than a part can hold."""
    diffs = [_diff_lines(action) for action in actions]
    pieces: list[list[list[str]]] = [[]]
    size = 0
    for lines in diffs:
        length = sum(len(line) + 1 for line in lines)
        if pieces[-1] and size + length > piece_room - 2_000:
            pieces.append([])
            size = 0
        pieces[-1].append(lines)
        size += length
    template = _env.get_template("tenant.md.j2")
    out = []
    for number, piece in enumerate(pieces, start=1):
        label = title if len(pieces) == 1 else f"{title} ({number}/{len(pieces)})"
        lines = [line for action_lines in piece for line in action_lines]
        out.append(
            template.render(
                title=label,
                summary_tail=summary_tail,
                open=open_,
                notes=[Raw(n) for n in notes] if number == 1 else [],
                diff=Raw(_fence(lines)) if lines else None,
            )
        )
    return out


def _diff_lines(action: Action) -> list[str]:
    """``+`` lines for a create, ``-`` for a delete, ``@@ ~ … @@`` then ``-``/``+`` pairs
    for an update or a move."""
    reason = f"  # {action.reason}" if action.reason else ""
    fields = field_lines(action)
    drift = drift_text(action)
    # Inside the fence: neither "+" nor "-", so it reads as a note, not as a change.
    note = [f"!     ↳ {drift}"] if drift else []
    if action.kind in ("create", "delete"):
        sign = "+" if action.kind == "create" else "-"
        lines = [f"{sign} {action.address}{reason}"]
        for f in fields:
            if f.lines:
                lines.append(f"{sign}     {f.path}: ({f.text})")
                lines += [f"{line[0]}       {line[1:]}" for line in f.lines]
            else:
                lines.append(f"{sign}     {f.path}: {f.text}")
        return [*lines, *note]
    symbol = "~" if action.kind == "update" else "→"
    lines = [f"@@ {symbol} {action.address} @@{reason}"]
    for f in fields:
        if f.lines:
            # Line by line: "-" and "+" for what changes, unchanged lines as context.
            lines.append(f"!     {f.path}: ({f.text})")
            lines += [f"{line[0]}       {line[1:]}" for line in f.lines]
        elif " → " in f.text and not f.text.startswith("(sensitive"):
            before, after = f.text.split(" → ", 1)
            lines += [f"-     {f.path}: {before}", f"+     {f.path}: {after}"]
        else:
            lines.append(f"!     {f.path}: {f.text}")
    return [*lines, *note]


def _fence(lines: list[str]) -> str:
    # Nothing is markup inside a fence, but a bidi override still reorders it and the
    # comment's text is printed to a CI log too: each line as for a terminal.
    body = "\n".join(terminal(line) for line in lines)
    longest = max((len(m) for m in _BACKTICKS.findall(body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}diff\n{body}\n{fence}\n"


# Summary -------------------------------------------------------------------------------


def _short(commit: str | None) -> str | None:
    return commit[:12] if commit else None


def _head_context(plan: Plan, approval: Approval) -> dict[str, Any]:
    tenants = _tenant_order(plan)
    errors = [*plan.errors, *(e for t in plan.tenants if t.errors for e in t.errors)]
    flagged = [t for t in map(plan.tenants.get, plan.tenants.flagged_slugs()) if t is not None]
    rows = [
        {
            **tenant_counts(t),
            "slug": t.slug,
            "errors": len(t.errors),
            "flag": bool(t.deletes_need_flag),
        }
        for t in (plan.tenants[p] for p in tenants[:_ROW_CAP])
    ]
    callouts, more_callouts = _callouts(plan)
    uncompared, in_changed = uncompared_changed_first(plan)
    return {
        "target": target_text(plan.target),
        "plan_id": plan.plan_id,
        "commit": _short(plan.commit),
        "summary": summary_line(plan),
        "targeted": plan.only is not None,
        "changed_since": plan.changed_since,
        "planned_count": len(plan.tenants),
        "skipped": plan.skipped_tenants,
        "rows": rows,
        "more_rows": len(tenants) - len(rows),
        "unchanged": len(plan.tenants) - len(tenants),
        "errors": errors[:_LIST_CAP],
        "error_total": error_count(plan),
        "more_errors": max(0, len(errors) - _LIST_CAP),
        "flagged": [
            {"slug": t.slug, "reasons": "; ".join(t.deletes_need_flag)} for t in flagged[:_LIST_CAP]
        ],
        "more_flagged": max(0, len(flagged) - _LIST_CAP),
        "approved": plan.deletes_approved,
        "flag_cell": "approved" if approval.approved_by else "yes",
        "approved_by": Raw(approval.by_markdown()),
        "how_to_approve": Raw(approval.how_markdown()),
        "callouts": callouts,
        "more_callouts": more_callouts,
        "leaving": plan.leaving,
        "kept_outside": plan.kept_outside,
        "delete_unmanaged": plan.delete_unmanaged,
        "uncompared": uncompared[:_UNCOMPARED_CAP],
        "uncompared_total": len(uncompared),
        "uncompared_changed": in_changed,
        "more_uncompared": max(0, len(uncompared) - _UNCOMPARED_CAP),
        "partial_note": PARTIAL_NOTE,
    }


_UNCOMPARED_CAP = 200  # listed in the folded details (the JSON plan lists them all)


def _callouts(plan: Plan) -> tuple[list[dict[str, str]], int]:
    """The sensitive changes, first _LIST_CAP of them, and how many more there are."""
    found: list[dict[str, str]] = []
    more = 0
    tenants = (plan.tenants[p] for p in _tenant_order(plan))
    for tenant in tenants:
        for action in tenant.actions:
            paths = called_out_paths(action)
            if paths is None:
                continue
            if len(found) < _LIST_CAP:
                found.append({"slug": tenant.slug, "text": callout_text(action, paths)})
            else:
                more += 1
    return found, more


def _foot_context(plan: Plan) -> dict[str, Any]:
    users = [u for u in plan.agreement_users if accesses_shown(u)]
    return {
        "unmanaged": ", ".join(plan.unmanaged_tenants[:_LIST_CAP]),
        "unmanaged_count": len(plan.unmanaged_tenants),
        "more_unmanaged": max(0, len(plan.unmanaged_tenants) - _LIST_CAP),
        "agreement_users": users[:_LIST_CAP],
        "accesses_partial": PARTIAL_ACCESSES if any(u.partial for u in users) else "",
        "more_agreements": max(0, len(users) - _LIST_CAP),
    }
