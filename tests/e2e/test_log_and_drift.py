"""Who changed it: after apply, someone else changes a tenant live with their own token;
the nightly plan names them on the drifted value (text, markdown, JSON), `log` shows the
audit log and the distribution log of invoices they issued, with a read-only token, and
neither ever shows a secret or a full personal number."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import PERSONAL_NUMBERS, Server, cli, example_secrets
from tests.e2e.helpers import ANSI, edit_tenant

pytestmark = pytest.mark.e2e

KARI = "kari@ok-skogen.no"


def _token(server: Server, *args: str) -> str:
    made = cli("sandbox", "token", "create", "--db", server.db, "--partner", "e2e-partner", *args)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1]


def _client(server: Server, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url,
        headers={"Authorization": f"Bearer {token}", "User-Agent": "curl/8.5.0"},
        timeout=30,
    )


def test_a_live_change_is_attributed_in_the_plan_and_shown_by_log(
    server: Server, examples_copy: Path
) -> None:
    applied = cli("apply", examples_copy, "--auto-approve", env=server.env())
    assert applied.returncode == 0, applied.stderr
    kari = _client(server, _token(server, "--name", KARI))
    with kari:
        tenant = kari.get("/v1/tenants/ok-skogen")
        changed = kari.patch(
            "/v1/tenants/ok-skogen",
            json={"contact": {**tenant.json()["contact"], "phone": "+4799990000"}},
            headers={"If-Match": tenant.headers["etag"]},
        )
        assert changed.status_code == 200, changed.text

    # A change of the configuration (a pull request) is no drift: the tool wrote that value.
    edit_tenant(examples_copy, "ok-skogen-ungdom", lambda doc: doc["billing"].update(licenses=9))
    reader = server.env(T4O_API_TOKEN=_token(server, "--read-only", "--name", "nightly"))
    nightly = cli("plan", examples_copy, "--detailed-exitcode", env=reader)
    assert nightly.returncode == 2, nightly.stderr
    lines = nightly.stdout.splitlines()
    phone = next(i for i, line in enumerate(lines) if "contact.phone" in line)
    assert '"+4799990000" → "+47 22 33 44 55"' in lines[phone]  # as the file writes it
    assert (
        lines[phone + 1]
        .strip()
        .startswith(f'↳ drift: changed live by e2e-partner (token "{KARI}") at 20')
    )
    assert lines[phone + 1].rstrip().endswith("with curl/8.5.0")
    assert "licenses: 8 → 9" in nightly.stdout
    assert sum("drift:" in line for line in lines) == 1

    markdown = cli("plan", examples_copy, "--format", "markdown", env=reader)
    assert "!     ↳ drift: changed live by e2e-partner (token" in markdown.stdout
    document = json.loads(cli("plan", examples_copy, "--format", "json", env=reader).stdout)
    drifted = [a for t in document["tenants"] for a in t["actions"] if a["drift"]]
    assert [a["address"] for a in drifted] == ["ok-skogen.identity"]
    assert drifted[0]["drift"] | {"at": "", "entry": 0} == {
        "at": "",
        "entry": 0,
        "actor": "e2e-partner",
        "token": KARI,
        "client": "curl/8.5.0",
        "change": "update",
    }

    # Kari invoices two customers; the second address cannot be delivered to.
    with _client(server, _token(server, "--name", KARI)) as kari:
        for customer in (
            {"name": "Ola Kunde", "email": "ola@kunde.no", "language": "en"},
            {"name": "Død Adresse", "email": "x@kunde.invalid"},
        ):
            issued = kari.post(
                "/v1/tenants/ok-skogen/invoices",
                json={"customer": customer},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert issued.status_code == 201, issued.text

    shown = cli("log", "--tenant", "ok-skogen", "--since", "1h", env=reader)
    assert shown.returncode == 0, shown.stderr
    out = shown.stdout
    assert not ANSI.search(out)
    assert f'~ tenant  by e2e-partner (token "{KARI}") with curl/8.5.0' in out
    assert 'contact.phone: "+4722334455" → "+4799990000"' in out
    assert "with t4o-reconcile/" in out  # the apply's own changes, by the tool
    assert "Distribution log of ok-skogen since " in out and "2 invoice(s), 1 failed" in out
    assert "invoice 1001 to Ola Kunde: sent by e-mail to ola@kunde.no" in out
    assert "template invoice/en, language en; from faktura@ok-skogen.no; PDF detailed" in out
    assert "error: 550 5.1.1 <x@kunde.invalid>: recipient unknown" in out
    for secret in example_secrets().values():
        assert secret not in out
    fjell = cli("log", "--tenant", "il-fjellrev", "--format", "json", env=reader)
    assert fjell.returncode == 0, fjell.stderr
    assert PERSONAL_NUMBERS[0] not in fjell.stdout
    created = json.loads(fjell.stdout)["audit_log"][0]
    # Read with a read-only token: not even the last digits (docs/api.md, fingerprints).
    assert created["after"]["personal_number"] == "(sensitive)"

    only = cli(
        "log", "--tenant", "ok-skogen", "--only", "distribution", "--format", "json", env=reader
    )
    document = json.loads(only.stdout)
    assert document["audit_log"] is None
    assert [e["status"] for e in document["distribution_log"]] == ["sent", "failed"]
    assert {e["token"] for e in document["distribution_log"]} == {KARI}


def test_log_refuses_bad_values_with_a_clear_error(server: Server) -> None:
    for args, expected in (
        (("--tenant", "ok-skogen", "--since", "last week"), "expected an ISO 8601 time"),
        (("--tenant", "ok-skogen", "--since", "2999-01-01"), "lies in the future"),
        (("--tenant", "ok-skogen", "--since", "0h"), "a duration above zero"),
        (("--tenant", "Bad/Slug"), "expected a tenant slug"),
        (("--tenant", "no-such-club"), "tenant 'no-such-club' does not exist"),
        (("--tenant", "ok-skogen", "--format", "yaml"), "'yaml' is not one of"),
    ):
        done = cli("log", *args, env=server.env())
        assert done.returncode == 1, (args, done.stdout)
        assert expected in done.stderr, (args, done.stderr)
        assert done.stdout == ""
