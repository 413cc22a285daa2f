"""The comment as a reviewer reads it on GitHub: rendered by cmarkgfm (GitHub's renderer),
its first screen holds the summary and the changes, sensitive changes are called out
before the per-tenant details, uncompared secrets are one folded line, the wording is
CI's or the CLI's, multi-line values are diffed line by line, no token shows."""

from __future__ import annotations

import html as html_module
import re

import cmarkgfm
from cmarkgfm.cmark import Options

from t4o_reconcile.engine.diff import make_plan
from t4o_reconcile.engine.plan import Plan
from t4o_reconcile.engine.snapshot import Item, TenantSnapshot, UnreadSecret
from t4o_reconcile.render.approval import Approval
from t4o_reconcile.render.markdown import render_markdown
from t4o_reconcile.render.text import render_text
from tests.engine.builders import desired_tenant, live_twin, snapshot

FIRST_SCREEN = 40  # lines of rendered text a 1000×1400 window shows above the fold
TENANTS = 500
CHANGED = ("klubb-007", "klubb-250", "klubb-499")


def rendered_text(markdown: str) -> list[str]:
    """The comment's visible lines as GitHub shows them: HTML from cmarkgfm, folded
    ``<details>`` bodies dropped (a reader sees only their summary), tags stripped."""
    page: str = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=Options.CMARK_OPT_UNSAFE
    )
    page = re.sub(r"(<details>)(<summary>.*?</summary>).*?</details>", r"\2", page, flags=re.S)
    page = re.sub(r"<!--.*?-->", "", page, flags=re.S)
    page = re.sub(r"</t[dh]>\s*<t[dh][^>]*>", " | ", page)  # a table row is one line
    page = re.sub(r"</(p|h\d|li|tr|summary|pre)>|<br\s*/?>", "\n", page)
    text = html_module.unescape(re.sub(r"<[^>]+>", "", page))
    return [line.strip() for line in text.splitlines() if line.strip()]


def _without_secrets(tenant: TenantSnapshot) -> TenantSnapshot:
    """The pull-request job's view: no secret value read."""
    for name, path in (("email_account", "password"), ("connections", "token")):
        for item in tenant.sections[name].values():
            item.fields[path] = UnreadSecret(item.fields[path].source)
    return tenant


def pr_plan() -> Plan:
    """500 tenants planned without secrets (1,000 secrets not compared), 3 changed: a
    new bank account that takes over invoicing, a user made admin, the SMTP host moved,
    a template body rewritten."""
    wants, haves = [], []
    for n in range(TENANTS):
        slug = f"klubb-{n:03d}"
        want = desired_tenant(slug)
        have = live_twin(desired_tenant(slug))
        wants.append(_without_secrets(want))
        haves.append(have)
    first, second, third = (int(slug[-3:]) for slug in CHANGED)
    accounts = wants[first].sections["bank_accounts"]
    accounts["15030012345"].fields.update(invoice_account=False, default_for_payments=False)
    accounts["12345678903"].fields.update(invoice_account=True, default_for_payments=True)
    accounts["86011117947"] = Item(
        {
            "account_number": "86011117947",
            "iban": "NO9386011117947",
            "swift": "DNBANOKK",
            "invoice_account": False,
            "default_for_payments": False,
        }
    )
    wants[second].sections["users"]["kari@ok-skogen.no"].fields.update(
        role="admin", programs={**_none(), "invoicing": "admin"}
    )
    wants[third].sections["email_account"][""].fields["smtp_host"] = "smtp.elsewhere.example"
    wants[third].sections["email_templates"]["invoice/nb"].fields["body"] = (
        "Hei {Customer.Name}\nForfall {DueDate}.\nBetal med KID {KID}."
    )
    return make_plan(snapshot(*wants), snapshot(*haves), target="https://api.example.com")


def _none() -> dict[str, str]:
    return {p: "none" for p in ("invoicing", "accounting", "payroll", "events")}


def test_first_screen_is_the_summary_and_the_changes() -> None:
    plan = pr_plan()
    assert len(plan.uncompared) == 2 * TENANTS
    text = render_markdown(plan, approval=Approval(label="t4o:allow-deletes"))
    lines = rendered_text(text)
    first = "\n".join(lines[:FIRST_SCREEN])
    assert "Plan: 1 to create, 4 to update, 0 to delete, 0 to move." in first
    for slug in CHANGED:
        assert re.search(rf"^{slug} \| [0-9]", first, re.M), slug  # its row in the table
    assert "Sensitive changes" in first
    assert "klubb-007: bank account 8601.11.17947 added (IBAN NO93 8601 1117 947)" in first
    rights = "role member → admin; program rights none → invoicing admin"
    assert f"klubb-250: user kari@ok-skogen.no: {rights}" in first
    assert "smtp_host smtp.ok-skogen.no → smtp.elsewhere.example" in first
    moved = "invoice account no → yes; default for payments no → yes (taken from the account"
    assert f"klubb-007: bank account 1234.56.78903: {moved}" in first
    # Uncompared secrets: one line, a count over the planned tenants, the list folded.
    partial = [line for line in lines if "not compared" in line]
    assert len(partial) == 2  # the line and the folded details' summary
    assert "1000 secret(s) in the 500 planned tenant(s) not compared" in partial[0]
    assert "klubb-050" not in "\n".join(lines)  # no untouched tenant is on screen
    assert text.count("klubb-050.connections") == 1  # ... but in the folded details
    folded = text[text.index("<details><summary>Secrets not compared") :]
    assert folded.index("klubb-499.") < folded.index("klubb-000.")  # changed ones first


def test_sensitive_changes_come_before_the_per_tenant_details() -> None:
    text = render_markdown(pr_plan())
    callout = text.index("### 🔐 Sensitive changes")
    assert callout < text.index("| Tenant |") < text.index("<details")
    assert text.index("<details><summary>Secrets not compared") > text.index("| Tenant |")


def test_multi_line_values_are_diffed_line_by_line() -> None:
    plan = pr_plan()
    page: str = cmarkgfm.github_flavored_markdown_to_html(
        render_markdown(plan), options=Options.CMARK_OPT_UNSAFE
    )
    block = next(
        b
        for b in re.findall(r'<pre lang="diff"><code>(.*?)</code></pre>', page, re.S)
        if "body" in b
    )
    assert "\\n" not in block
    assert "!     body: (2 lines → 3 lines)" in block
    assert "\n        Hei {Customer.Name}\n" in block  # unchanged context
    assert "\n+       Betal med KID {KID}.\n" in block
    text = render_text(plan, color=False)
    assert "        +Betal med KID {KID}." in text
    assert "\\n" not in text.split("klubb-499", 1)[1]


def test_ci_wording_names_the_label_and_who_approved() -> None:
    plan = pr_plan()
    wants = desired_tenant("ok-a")
    del wants.sections["users"]["kari@ok-skogen.no"]
    plan = make_plan(snapshot(wants), snapshot(live_twin(desired_tenant("ok-a"))), target="t")
    cli = render_markdown(plan)
    assert "Needs approval: pass `--allow-deletes`" in cli
    ci = render_markdown(plan, approval=Approval(label="t4o:allow-deletes"))
    assert "Needs approval: add the label `t4o:allow-deletes`" in ci
    assert "--allow-deletes`" not in ci
    nasty = "<img src=x> **eve** at 2026-12-07T10:00:00Z"
    approved = render_markdown(plan, approval=Approval(label="ok", approved_by=nasty))
    assert "### ✅ Approved by &#60;img src=x&#62; &#42;&#42;eve&#42;&#42; at" in approved
    assert "<img" not in cmarkgfm.github_flavored_markdown_to_html(approved)
    assert "· ✅ approved</summary>" in approved and "| approved |" in approved
    assert "⚠️" not in approved and "Needs approval:" not in approved
    text = render_text(plan, color=False, approval=Approval(label="t4o:allow-deletes"))
    assert "add the label t4o:allow-deletes" in text and "--allow-deletes" not in text
    assert "pass --allow-deletes" in render_text(plan, color=False)


def test_no_part_of_a_token_is_shown() -> None:
    plan = pr_plan()
    plan.target = "https://api.example.com (token …WXYZ)"  # a plan saved by 0.x
    for shown in (render_markdown(plan), render_text(plan, color=False)):
        assert "WXYZ" not in shown and "token …" not in shown


def test_the_terminal_lists_sensitive_changes_first_and_folds_uncompared_secrets() -> None:
    text = render_text(pr_plan(), color=False)
    lines = text.splitlines()
    assert lines[2].startswith("Sensitive changes")
    assert text.index("Sensitive changes") < text.index("Tenant klubb-007")
    assert "1000 secret(s) not compared." in text
    assert sum(line.startswith("  ? ") for line in lines) == 21  # 20 and "… and 980 more"
    assert "  ? … and 980 more (--format json lists them all)" in lines
    first_listed = next(line for line in lines if line.startswith("  ? "))
    assert first_listed.startswith("  ? klubb-007.")  # a changed tenant's first
