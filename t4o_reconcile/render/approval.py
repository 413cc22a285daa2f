"""How a plan tells its reader to approve what needs approval, and who approved it.

A reviewer in a pull request approves by adding a label; an operator at a terminal passes
``--allow-deletes``. ``show`` and ``plan`` take ``--approval-label NAME`` (the CI kit
passes it) and ``--approved-by TEXT`` (who added the label, and when, as the trusted job
read it from the forge): with a label the wording is CI's, without one the CLI's. Both
values come from the command line, but a label name or a user name is still chosen by
someone else: every sink escapes them.
"""

from __future__ import annotations

from dataclasses import dataclass

from t4o_reconcile.render.escape import code_span, markdown, terminal

FLAG = "--allow-deletes"


@dataclass(frozen=True, slots=True)
class Approval:
    label: str | None = None  # None: the reader is at a terminal (the CLI's wording)
    approved_by: str | None = None  # "octocat at 2026-12-07T10:01:02Z", as CI read it

    @property
    def in_ci(self) -> bool:
        return bool(self.label)

    def how_markdown(self) -> str:
        """``add the label `t4o:allow-deletes``` or ``pass `--allow-deletes```."""
        if self.label:
            return f"add the label {code_span(self.label)}"
        return f"pass {code_span(FLAG)} to plan and apply"

    def how_text(self) -> str:
        if self.label:
            return f"add the label {terminal(self.label)}"
        return f"pass {FLAG} to plan and apply"

    def by_markdown(self) -> str:
        return markdown(self.approved_by) if self.approved_by else ""

    def by_text(self) -> str:
        return terminal(self.approved_by) if self.approved_by else ""


CLI = Approval()
