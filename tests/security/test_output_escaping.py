"""Class 4: every output escapes what it did not write.

A tenant file, a plan file or an API answer holding terminal escapes (ESC, OSC 8 links,
BEL), bidirectional overrides, zero-width characters, line and paragraph separators, and
lines starting with a workflow command (``::error``, ``##[error]``) goes through every
command and format: nothing arrives raw. Invisible characters show as ``\\u202e``; no
line of any output can be read by a GitHub Actions runner as a command it did not write;
the pull-request comment, rendered as GitHub renders it, keeps its own structure and its
sticky marker.

The property tests drive each sink's function (``render.escape``) with any string; the
end-to-end tests drive the real CLI against the sandbox process.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options
from hypothesis import given
from hypothesis import strategies as st

from t4o_reconcile.errors import (
    ApiError,
    ApplyRefused,
    T4oError,
    UnexpectedAnswer,
    WorkflowError,
)
from t4o_reconcile.render import escape
from tests.e2e.conftest import Server, base_env, cli

# Everything an attacker would try, in one value.
PAYLOAD = (
    "x\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07\x1b[2J\x1b[31mred\x9b1m\x07"
    "\u202eevil\u2066iso\u2069\u200b\u200d\ufeff\u00ad\u2028\u2029\x85\r"
    "\n::error file=a.yaml,line=1::forged annotation"
    "\n  ::stop-commands::tok"
    "\n##[error]legacy forged"
)
# What a value must never begin with when a line could start with it.
COMMAND_START = "::add-mask::Plan"
HTML = "</details></summary>--><!-- <h1>owned</h1> <img src=x> [link](https://evil.example)"


# What no output may hold ----------------------------------------------------------------


def hidden_characters(text: str, *, allowed: str = "\n") -> list[str]:
    """The controls, separators and format (bidi, zero-width) characters in ``text``."""
    found = []
    for ch in text:
        if ch in allowed:
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Zl", "Zp", "Cs") or ch == "\x7f":
            found.append(f"U+{ord(ch):04X}")
    return found


# A command this program writes: the name, properties whose values hold no ":" or ","
# (escaped by the runner's rules), then the message.
OWN_COMMAND = re.compile(r"::(error|warning|notice) [a-z]+=[^:,]*(,[a-z]+=[^:,]*)*::[^\n]*")


def assert_inert(text: str, *, commands: int = 0) -> None:
    """Nothing hidden, no line a runner reads as a command except ``commands`` of our own,
    and no legacy ``##[`` command anywhere."""
    assert hidden_characters(text) == [], text
    assert "##[" not in text, text
    starts = [line for line in text.split("\n") if line.lstrip().startswith("::")]
    assert len(starts) == commands, starts
    for line in starts:
        assert OWN_COMMAND.fullmatch(line), line


def assert_outputs_inert(done: Any, *, commands: int = 0, where: str = "stdout") -> None:
    assert "Traceback" not in done.stderr, done.stderr
    assert_inert(done.stderr)
    assert_inert(done.stdout, commands=commands)


def rendered_html(markdown: str) -> str:
    """As GitHub renders it, less the links GitHub makes of plain text, each showing its
    own target: a bare URL or an e-mail address (``mailto:``) linked to itself."""
    html: str = cmarkgfm.github_flavored_markdown_to_html(
        markdown, options=Options.CMARK_OPT_UNSAFE
    )
    return EMAIL_LINK.sub(r"\1", html)


EMAIL_LINK = re.compile(r'<a href="(?:mailto:)?([^"<>]+)">\1</a>')


# Tags the comment's own templates make; anything else was injected.
OWN_TAGS = {
    "details",
    "summary",
    "strong",
    "em",
    "p",
    "ul",
    "li",
    "code",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "h2",
    "h3",
    "h4",
    "br",
}
MARKER_HTML = re.compile(r"<!-- t4o-reconcile:plan part=\d+/\d+ plan=[A-Za-z0-9._%]+ -->\n")


def assert_comment_inert(markdown: str) -> None:
    """As a reviewer sees it: only the templates' own tags, every <details> closed by its
    own </details>, the marker whole, and no link, image or heading from a value."""
    assert_inert(markdown)
    html = rendered_html(markdown)
    tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html))
    assert tags <= OWN_TAGS, tags - OWN_TAGS
    # Lines the templates start (a fenced line starts with "+", "-", "@@" or "!").
    blocks = len(re.findall(r"^<details", markdown, re.M))
    parts = len(re.findall(r"^<!-- t4o-reconcile:plan part=", markdown, re.M))
    assert html.count("<details") == html.count("</details>") == blocks
    assert html.count("<!--") == len(MARKER_HTML.findall(html)) == parts >= 1
    assert "-->" not in MARKER_HTML.sub("", html)
    assert "href=" not in html and "<img" not in html  # no link but a bare one to itself


# Property tests: each sink's function --------------------------------------------------

ANY_TEXT = st.text(
    st.characters(codec=None, exclude_categories=()),  # every code point, surrogates too
    max_size=60,
) | st.sampled_from([PAYLOAD, COMMAND_START, HTML, " ::x", "##[error]", "\u2028::error::x"])


@given(ANY_TEXT)
def test_visible_shows_every_hidden_character(text: str) -> None:
    out = escape.visible(text)
    assert hidden_characters(out, allowed="") == []
    assert "\n" not in out and "\r" not in out
    if text.isprintable() and escape._INVISIBLE_PRINTABLE.search(text) is None:
        assert out == text  # a plain value is shown as written


@given(ANY_TEXT)
def test_terminal_text_cannot_start_or_hold_a_workflow_command(text: str) -> None:
    out = escape.terminal(text)
    assert hidden_characters(out, allowed="") == []
    assert not out.lstrip().startswith("::")
    assert "##[" not in out
    # Whatever text goes before it on a line, the value cannot make a command start.
    for prefix in ("", "  ", "Target: "):
        assert not (prefix + out).lstrip().startswith("::") or prefix.strip()


@given(ANY_TEXT, st.lists(ANY_TEXT, max_size=3))
def test_an_error_message_keeps_only_its_own_list_lines(text: str, items: list[str]) -> None:
    message = f"refused ({text}):" + "".join(f"\n  - {item}" for item in items)
    out = escape.terminal_message(message)
    first, *rest = out.split("\n")
    assert first.startswith("refused (") and all(line.startswith("  ") for line in rest)
    assert hidden_characters(out) == [] and "##[" not in out
    assert not any(line.lstrip().startswith("::") for line in out.split("\n"))


@given(ANY_TEXT, ANY_TEXT)
def test_workflow_commands_round_trip_through_the_runners_unescaping(
    message: str, title: str
) -> None:
    data = escape.workflow_data(message)
    prop = escape.workflow_property(title)
    line = f"::error title={prop}::{data}"
    assert hidden_characters(line, allowed="") == []
    assert "\n" not in line and "\r" not in line and "##[" not in line
    assert ":" not in prop and "," not in prop
    # The runner's ActionCommand.TryParseV2: the first "::" after the name ends the
    # properties; each property and the data are unescaped; what it reads is what we meant.
    info, _, rest = line[2:].partition("::")
    assert info == f"error title={prop}"
    assert _unescape(rest, property_=False) == escape.terminal(message)
    assert _unescape(prop, property_=True) == escape.terminal(title)


def _unescape(text: str, *, property_: bool) -> str:
    pairs = [("%0D", "\r"), ("%0A", "\n")]
    if property_:
        pairs += [("%3A", ":"), ("%2C", ",")]
    for escaped, plain in [*pairs, ("%25", "%")]:
        text = text.replace(escaped, plain)
    return text


@given(ANY_TEXT)
def test_markdown_text_is_inert_wherever_it_is_put(text: str) -> None:
    out = escape.markdown(text)
    assert hidden_characters(out, allowed="") == []
    assert not out.startswith(":") and "##[" not in out
    assert not re.search(r"[<>\[\]`*_|\\#!]", re.sub(r"&#\d+;", "", out))
    # In a table cell, a <summary> and prose the same text shows, as written, and no tag.
    for template in ("| {} | x |\n|---|---|\n| {} | y |", "<details><summary>{}</summary>\n\n{}"):
        html = rendered_html(template.format(out, out))
        assert not (set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html)) - OWN_TAGS)


@given(ANY_TEXT)
def test_a_code_span_shows_the_value_and_nothing_else(text: str) -> None:
    out = escape.code_span(text)
    assert hidden_characters(out, allowed="") == []
    html = rendered_html(f"Plan {out} done")
    assert html.count("<code>") == 1 and html.count("</code>") == 1


@given(ANY_TEXT)
def test_an_html_comment_value_cannot_close_the_comment(text: str) -> None:
    out = escape.comment_value(text)
    assert re.fullmatch(r"[A-Za-z0-9._%]*", out)
    html = rendered_html(f"<!-- t4o-reconcile:plan part=1/1 plan={out or 'x'} -->\n\n## Plan\n")
    assert MARKER_HTML.match(html) and html.count("-->") == 1


@given(ANY_TEXT)
def test_json_keeps_the_value_and_shows_nothing_hidden(text: str) -> None:
    for indent in (None, 2):
        out = escape.json_dumps({"k": text, text: [text]}, indent=indent)
        assert json.loads(out) == {"k": text, text: [text]}
        assert hidden_characters(out) == []
        assert "##[" not in out
        assert not any(line.lstrip().startswith("::") for line in out.split("\n"))


@given(ANY_TEXT)
def test_sarif_text_is_visible_and_holds_no_embedded_link(text: str) -> None:
    out = escape.sarif_text(text)
    assert hidden_characters(out, allowed="") == []
    assert not re.search(r"(?<!\\)[\[\]]", out.replace("\\\\", ""))


def test_the_escapes_are_backslash_u_and_hex() -> None:
    assert escape.visible("a\x1bb\u202ec\U000e0041") == "a\\u001bb\\u202ec\\U000e0041"
    assert escape.terminal("  ::error::x") == "  \\u003a:error::x"
    assert escape.terminal("a ##[error]b") == "a ##\\u005berror]b"
    assert escape.markdown(":x: <b>") == "&#58;x: &#60;b&#62;"
    assert escape.comment_value("0123abcdef") == "0123abcdef"
    assert escape.comment_value("x -->") == "x%20%2D%2D%3E"
    assert escape.code_span("a`b") == "``a`b``"
    assert escape.json_dumps(["\u202e\U000e0041"]) == '["\\u202e\\udb40\\udc41"]'
    assert escape.sarif_text("[x](y) \\") == "\\[x\\](y) \\\\"


# End to end: the real CLI ---------------------------------------------------------------


def _yaml_string(value: str) -> str:
    """A YAML double-quoted scalar holding ``value`` (JSON's escapes are YAML's)."""
    return json.dumps(value)


def _hostile_tenant(folder: Path) -> None:
    """ok-skogen with the payload in values (a name, a city) and in keys (a misspelt key,
    an unknown program), so validate reports it back."""
    path = folder / "ok-skogen.yaml"
    text = path.read_text()
    text = text.replace("\nname: OK Skogen\n", f"\nname: {_yaml_string('OK Skogen ' + PAYLOAD)}\n")
    text = text.replace("  city: Oslo", f"  city: {_yaml_string(COMMAND_START + PAYLOAD)}")
    text = text.replace("billing:\n", f"{_yaml_string(COMMAND_START + PAYLOAD)}: 1\nbilling:\n", 1)
    text = text.replace(
        "  interval: monthly", f"  interval: {_yaml_string(COMMAND_START + HTML + PAYLOAD)}"
    )
    path.write_text(text)


@pytest.mark.e2e
@pytest.mark.parametrize("fmt", ["text", "json", "github", "sarif"])
def test_validate_escapes_keys_and_values_from_a_tenant_file(examples_copy: Path, fmt: str) -> None:
    _hostile_tenant(examples_copy)
    done = cli("validate", examples_copy, "--format", fmt)
    assert done.returncode == 1, done.stderr
    # One command of our own per finding, and not one more.
    findings = len(
        json.loads(cli("validate", examples_copy, "--format", "json").stdout)["problems"]
    )
    assert_outputs_inert(done, commands=findings if fmt == "github" else 0)
    shown = done.stderr if fmt == "text" else done.stdout
    assert "\\u202e" in shown and "\\u001b" in shown, shown
    if fmt in ("json", "sarif"):
        document = json.loads(done.stdout)
        assert document


def _values_in_ok_skogen(folder: Path) -> None:
    """The payload in two values a tenant file may hold (a name, a city; at most 200
    characters each)."""
    path = folder / "ok-skogen.yaml"
    text = path.read_text()
    text = text.replace("\nname: OK Skogen\n", f"\nname: {_yaml_string(COMMAND_START + PAYLOAD)}\n")
    text = text.replace("  city: Oslo", f"  city: {_yaml_string(COMMAND_START + HTML)}")
    path.write_text(text)


@pytest.mark.e2e
@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "github"])
def test_plan_escapes_values_from_a_tenant_file(
    server: Server, examples_copy: Path, fmt: str
) -> None:
    _values_in_ok_skogen(examples_copy)
    done = cli("plan", examples_copy, "--format", fmt, env=server.env())
    assert done.returncode == 0, done.stderr
    # The warnings and the summary notice are the only commands.
    warnings = len(
        json.loads(cli("validate", examples_copy, "--format", "json").stdout)["problems"]
    )
    assert_outputs_inert(done, commands=warnings + 1 if fmt == "github" else 0)
    if fmt == "markdown":
        assert_comment_inert(done.stdout)
    if fmt in ("text", "markdown"):
        assert "\\u202e" in done.stdout
    if fmt == "json":
        names = [
            a["after"]["name"]
            for t in json.loads(done.stdout)["tenants"]
            for a in t["actions"]
            if a["after"] and "evil" in str(a["after"].get("name"))
        ]
        # JSON's escapes lose nothing (the loader made the line separators "\n").
        assert len(names) == 1 and names[0].startswith(COMMAND_START + "x\x1b]8;;")
        assert "\u202eevil\u2066" in names[0] and "\n##[error]legacy forged" in names[0]


def _unchecked_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The CLI as ``cli`` runs it, without checking the JSON it prints against the plan
    schema: a crafted plan shown as JSON is the crafted plan, not a valid one."""
    return subprocess.run(
        [sys.executable, "-m", "t4o_reconcile", *map(str, args)],
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def _crafted_plan(server: Server, examples: Path, tmp_path: Path) -> Path:
    """A real saved plan, then edited as an attacker who uploads an artifact would."""
    saved = tmp_path / "real.plan"
    made = cli("plan", examples, "--out", saved, env=server.env())
    assert made.returncode == 0, made.stderr
    lines = [json.loads(line) for line in saved.read_text().splitlines()]
    header = lines[0]
    document = {**header, "tenants": lines[1 : 1 + header["tenant_count"]]}
    document["plan_id"] = "0123 --><h1>owned</h1>\n\n## Approved" + PAYLOAD + "<!--"
    document["target"] = COMMAND_START + PAYLOAD
    document["endpoint"] = COMMAND_START + PAYLOAD
    document["commit"] = "`" + HTML + PAYLOAD
    document["unmanaged_tenants"] = [COMMAND_START + HTML + PAYLOAD]
    document["leaving_management"] = [COMMAND_START + HTML + PAYLOAD]
    document["errors"] = [
        {
            "address": COMMAND_START + PAYLOAD,
            "message": HTML + PAYLOAD,
            "source": COMMAND_START + PAYLOAD + ":3:4",
        }
    ]
    tenant = document["tenants"][0]
    tenant["slug"] = COMMAND_START + HTML + PAYLOAD
    tenant["source"] = COMMAND_START + PAYLOAD
    tenant["deletes_need_flag"] = [HTML + PAYLOAD]
    action = tenant["actions"][0]
    action["reason"] = "```\n" + HTML + PAYLOAD
    action["drift"] = {
        "at": "2026-11-23T21:03:11Z" + PAYLOAD,
        "actor": COMMAND_START + PAYLOAD,
        "token": HTML + PAYLOAD,
        "client": "```" + PAYLOAD,
        "change": "update" + PAYLOAD,
        "entry": 1,
    }
    crafted = tmp_path / "crafted.plan"
    tenants = document.pop("tenants")
    crafted.write_text(
        "".join(json.dumps(part, ensure_ascii=False) + "\n" for part in [document, *tenants])
    )
    return crafted


@pytest.mark.e2e
def test_show_and_apply_escape_a_crafted_plan_file(
    server: Server, examples_copy: Path, tmp_path: Path
) -> None:
    crafted = _crafted_plan(server, examples_copy, tmp_path)
    for fmt in ("text", "markdown", "json", "github", "sarif"):
        done = _unchecked_cli("show", crafted, "--format", fmt)
        if done.returncode != 0:  # a reader that refuses the edited file must say so inertly
            assert done.stdout == "", fmt
            assert_outputs_inert(done)
            continue
        assert_outputs_inert(done, commands=2 if fmt == "github" else 0)
        if fmt == "markdown":
            assert_comment_inert(done.stdout)
    comment_dir = tmp_path / "comment"
    parts = cli("show", crafted, "--comment-dir", comment_dir)
    assert_outputs_inert(parts)
    for part in sorted(comment_dir.glob("part-*.md")):
        assert_comment_inert(part.read_text())

    applied = cli("apply", examples_copy, "--plan", crafted, env=server.env())
    assert applied.returncode == 1
    assert_outputs_inert(applied)
    assert len([line for line in applied.stderr.splitlines() if line.startswith("Error:")]) == 1


def _token(server: Server, name: str, *args: str) -> str:
    made = cli(
        "sandbox", "token", "create", "--db", server.db, "--partner", "e2e-partner",
        "--name", name, *args,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


@pytest.mark.e2e
def test_log_and_drift_escape_what_the_api_answers(server: Server, examples_copy: Path) -> None:
    applied = cli("apply", examples_copy, "--auto-approve", env=server.env())
    assert applied.returncode == 0, applied.stderr
    # A token's name and a live value are the API's answer when log and plan show them.
    # The sandbox keeps token names printable; a hostile API would not.
    hostile = server.env(T4O_API_TOKEN=_token(server, COMMAND_START + " ##[error]x <h1>y</h1>"))
    with server.client() as client:
        client.headers["Authorization"] = f"Bearer {hostile['T4O_API_TOKEN']}"
        tenant = client.get("/v1/tenants/ok-skogen")
        changed = client.patch(
            "/v1/tenants/ok-skogen",
            json={"name": COMMAND_START + PAYLOAD},
            headers={"If-Match": tenant.headers["etag"]},
        )
        assert changed.status_code == 200, changed.text
    for fmt in ("text", "markdown", "json"):
        done = cli("log", "--tenant", "ok-skogen", "--format", fmt, env=server.env())
        assert done.returncode == 0, done.stderr
        assert_outputs_inert(done)
        if fmt == "markdown":
            assert_inert(done.stdout)
            html = rendered_html(done.stdout)
            assert not (set(re.findall(r"<([a-zA-Z][a-zA-Z0-9]*)", html)) - OWN_TAGS)
    for fmt in ("text", "markdown", "json"):
        drift = cli("plan", examples_copy, "--format", fmt, env=server.env())
        assert drift.returncode == 0, drift.stderr
        assert_outputs_inert(drift)
        if fmt == "markdown":
            assert_comment_inert(drift.stdout)


# In process: the error printer, log records and progress --------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ApiError(422, "about:blank", PAYLOAD, PAYLOAD, PAYLOAD, method="PATCH", path="/v1/x"),
        UnexpectedAnswer(PAYLOAD, method="GET", path="/v1/tenants"),
        ApplyRefused([PAYLOAD, COMMAND_START + PAYLOAD]),
        WorkflowError(f"the plan was made for {COMMAND_START + PAYLOAD}; nothing was applied."),
    ],
)
def test_the_error_line_escapes_what_the_error_quotes(
    error: T4oError, capsys: pytest.CaptureFixture[str]
) -> None:
    from t4o_reconcile.cli import _report

    _report(error)
    err = capsys.readouterr().err
    assert_inert(err)
    assert err.startswith("Error: ") and "\\u202e" in err
    # One "Error:" line, then at most the message's own list: a line break the error
    # quotes is shown, unless it starts an indented line (which cannot be a command).
    first, *rest = err.rstrip("\n").split("\n")
    assert first.startswith("Error: ") and all(line.startswith("  ") for line in rest), err
    assert "\\u000a::error file=a.yaml" in err


def test_log_records_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    from t4o_reconcile.cli import _EscapingFormatter

    record = logging.LogRecord("t4o", logging.WARNING, __file__, 1, "who: %s", (PAYLOAD,), None)
    line = _EscapingFormatter("%(levelname)s %(name)s: %(message)s").format(record)
    assert_inert(line)
    assert "\n" not in line and "\\u001b" in line


@pytest.mark.parametrize("progress_type", ["TerminalProgress", "LogProgress"])
def test_progress_escapes_the_tenant(progress_type: str) -> None:
    import io

    from t4o_reconcile.engine.apply import ApplyEvent
    from t4o_reconcile.render import progress

    stream = io.StringIO()
    shown = getattr(progress, progress_type)(stream, tenants=1)
    tenant = COMMAND_START + PAYLOAD
    shown.update(ApplyEvent("action_done", tenant, 1, 1, "x", "applied"))
    shown.update(ApplyEvent("tenant_finished", tenant, 1, 1))
    shown.close()
    text = stream.getvalue()
    if progress_type == "TerminalProgress":  # its own redraw: \r and "erase to the end"
        text = text.replace("\r", "").replace("\x1b[K", "")
    assert_inert(text)
    assert "\\u202e" in text
