"""`t4o-reconcile plan` against a fresh sandbox: exit codes, the target line, the three
formats, --tenant, --out, and how bad input is reported. Nothing here writes to the
sandbox, so the module shares one server (and checks that it stayed empty)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import EXAMPLES, REPO, Server, cli, example_secrets
from tests.e2e.helpers import ANSI, edit_tenant, items, summary_line

pytestmark = pytest.mark.e2e

TENANTS = sorted(p.stem for p in EXAMPLES.glob("*.yaml") if not p.stem.startswith("_"))


def plan(server: Server, *args: str | Path, **env: str) -> tuple[int, str, str]:
    done = cli("plan", EXAMPLES, *args, env=server.env(**env), cwd=REPO)
    return done.returncode, done.stdout, done.stderr


def test_a_fresh_sandbox_plans_only_creates_and_detailed_exitcode_says_changes(
    module_server: Server,
) -> None:
    code, out, err = plan(module_server, "--detailed-exitcode")

    assert code == 2, err
    assert out.splitlines()[0] == f"Target: {module_server.url}"  # no part of the token
    actions = [line.lstrip()[0] for line in out.splitlines() if re.match(r"\s+[+~\-→] \S", line)]
    assert actions and set(actions) == {"+"}
    assert (
        summary_line(out) == f"Plan: {len(actions)} to create, 0 to update, 0 to delete, 0 to move."
    )


def test_without_detailed_exitcode_a_plan_with_changes_exits_0(module_server: Server) -> None:
    code, out, err = plan(module_server)

    assert code == 0, err
    assert "to create" in summary_line(out)


def test_tenant_option_plans_only_that_tenant_and_the_agreement_it_joins(
    module_server: Server,
) -> None:
    code, out, err = plan(module_server, "--tenant", "il-fjellrev", "--format", "json")

    assert code == 0, err
    document = json.loads(out)
    assert [t["slug"] for t in document["tenants"]] == ["il-fjellrev"]
    assert {a["address"] for t in document["tenants"] for a in t["actions"]} >= {"il-fjellrev"}
    assert [a["key"] for a in document["agreement_actions"]] == ["Bedriftsidretten Oslo"]


def test_tenant_option_naming_no_file_is_an_error(module_server: Server) -> None:
    code, _, err = plan(module_server, "--tenant", "no-such-club")

    assert code == 1
    assert "no-such-club" in err and "--tenant" in err


def test_json_format_is_versioned_with_stable_sorted_keys(module_server: Server) -> None:
    code, out, err = plan(module_server, "--format", "json")

    assert code == 0, err
    document = json.loads(out)
    assert document["format_version"] == 1
    assert all(keys == sorted(keys) for keys in key_orders(document))
    assert [t["slug"] for t in document["tenants"]] == TENANTS
    summary = document["summary"]
    actions = [a for t in document["tenants"] for a in t["actions"]]
    actions += document["agreement_actions"]
    for kind in ("create", "update", "delete", "move"):
        assert summary[kind] == sum(a["action"] == kind for a in actions)
    assert document["has_changes"] is True and document["has_errors"] is False


def key_orders(value: object) -> list[list[str]]:
    """The keys of every object in a parsed JSON document, in the order written."""
    if isinstance(value, dict):
        return [list(value), *(k for v in value.values() for k in key_orders(v))]
    if isinstance(value, list):
        return [k for v in value for k in key_orders(v)]
    return []


def test_markdown_format_has_a_summary_table_and_one_collapsible_section_per_tenant(
    module_server: Server,
) -> None:
    code, out, err = plan(module_server, "--format", "markdown")

    assert code == 0, err
    table = out.index("| Tenant | Create | Update | Delete | Move |")
    assert table < out.index("<details")
    for slug in TENANTS:
        assert re.search(rf"<details><summary><strong>{re.escape(slug)}</strong>", out), slug
        assert f"\n| {slug} | " in out
    assert out.count("<details") == out.count("</details>") == len(TENANTS) + 1  # + agreements


@pytest.mark.parametrize("no_color", ["1", ""], ids=["NO_COLOR", "not-a-tty"])
def test_output_that_is_not_a_terminal_has_no_colour_codes(
    module_server: Server, no_color: str
) -> None:
    code, out, err = plan(module_server, NO_COLOR=no_color)

    assert code == 0, err
    assert not ANSI.search(out) and not ANSI.search(err)


def test_out_saves_a_plan_file_without_any_secret_value(
    module_server: Server, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"

    code, _, err = plan(module_server, "--out", saved)

    assert code == 0, err
    assert f"apply --plan {saved}" in err
    text = saved.read_text()
    assert all(json.loads(line) for line in text.splitlines())  # JSON Lines
    for name, value in example_secrets().items():
        assert value not in text, name


def test_an_invalid_tenant_file_is_reported_at_file_line_column_and_nothing_is_applied(
    module_server: Server, examples_copy: Path
) -> None:
    edit_tenant(examples_copy, "il-fjellrev", lambda doc: doc["billing"].update(licences=3))
    env = module_server.env()

    planned = cli("plan", examples_copy, env=env)
    applied = cli("apply", examples_copy, "--auto-approve", env=env)

    for done in (planned, applied):
        assert done.returncode == 1
        assert re.search(
            rf"{re.escape(str(examples_copy))}/il-fjellrev\.yaml:\d+:\d+: ", done.stderr
        )
        assert "licenses" in done.stderr  # the nearest valid key
    with module_server.client() as client:
        assert items(client, "/v1/tenants") == []


def test_a_missing_secret_variable_is_named_with_tenant_and_field(module_server: Server) -> None:
    env = module_server.env()
    del env["T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD"]

    done = cli("plan", EXAMPLES, env=env, cwd=REPO)

    assert done.returncode == 1
    message = done.stdout + done.stderr
    assert "T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD" in message
    line = next(li for li in message.splitlines() if "T4O_SECRET_OK_SKOGEN_SMTP_PASSWORD" in li)
    assert "ok-skogen" in line and "password" in line


def test_plain_http_to_a_remote_host_is_refused_without_insecure(module_server: Server) -> None:
    done = cli("plan", EXAMPLES, "--api", "http://example.com", env=module_server.env(), cwd=REPO)

    assert done.returncode == 1
    assert "--insecure" in done.stderr
    assert done.stdout == ""
