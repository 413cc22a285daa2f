"""Each bad input gets one clear problem at the right file, line and column.

A case is: the files of a repository, then the expected ``FILE:LINE:COL: path:`` prefix
and a part of the message (what was wrong and what was expected).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from t4o_reconcile.config.problems import Problem, format_path

from .conftest import HEAD, Loader

OWNER = "users:\n  - {email: boss@club.no, name: Boss, role: owner}\n"
ACCOUNT = "15034210001"
AGREEMENTS = "_agreements.yaml"


def short(problem: Problem) -> str:
    where = f"{Path(problem.file).name}:{problem.line}:{problem.column}"
    return f"{where}: {format_path(problem.path)}: {problem.message}"


def club(extra: str = "") -> dict[str, str | bytes]:
    return {"club.yaml": HEAD + extra}


CASES: list[tuple[str, dict[str, str | bytes], str, str]] = [
    # -- YAML itself
    (
        "broken flow",
        club("billing: {licenses: 1\n"),
        "club.yaml:4:10: (document):",
        "invalid YAML while parsing a flow mapping",
    ),
    (
        # YAML 1.2 (libyaml 0.2) reads env:X in flow as one plain scalar, as the spec does.
        "unquoted colon in flow",
        club("connections:\n  - {connector: eventor-norway, token: {secret: env:X}}\n"),
        "club.yaml:5:33:",
        "environment variable X is not allowed",
    ),
    ("tab", club("billing:\n\tlicenses: 1\n"), "club.yaml:5:1: (document):", "tab character"),
    (
        "duplicate key",
        club("name: Other\n"),
        "club.yaml:4:1: (document):",
        "duplicate key 'name' (first defined on line 2)",
    ),
    (
        "nested duplicate key",
        club("billing:\n  licenses: 1\n  licenses: 2\n"),
        "club.yaml:6:3: (document):",
        "duplicate key 'licenses'",
    ),
    (
        "empty file",
        {"club.yaml": ""},
        "club.yaml:1:1: (document):",
        "empty file; expected a mapping",
    ),
    (
        "comment-only file",
        {"club.yaml": "# nothing yet\n"},
        "club.yaml:1:1: (document):",
        "empty file",
    ),
    (
        "list instead of mapping",
        {"club.yaml": "- slug: club\n"},
        "club.yaml:1:1: (document):",
        "expected a mapping of tenant settings (at least slug and name), got a list",
    ),
    (
        "scalar instead of mapping",
        {"club.yaml": "just words\n"},
        "club.yaml:1:1: (document):",
        "got a string",
    ),
    (
        "not UTF-8",
        {"club.yaml": HEAD.encode() + "name2: Sk\xf8gen\n".encode("latin-1")},
        "club.yaml:4:10: (document):",
        "not valid UTF-8 (byte 0xf8",
    ),
    # -- shape and types
    (
        "misspelt key",
        club(f"bank_accounts:\n  - account_number: '{ACCOUNT}'\n    iabn: NO7415034210001\n"),
        "club.yaml:6:5: bank_accounts[0].iabn:",
        "unknown key 'iabn'; did you mean 'iban'?",
    ),
    (
        "misspelt section",
        club("biling:\n  licenses: 1\n"),
        "club.yaml:4:1: biling:",
        "unknown key 'biling'; did you mean 'billing'?",
    ),
    (
        "unknown key far from any",
        club("xyzzy: 1\n"),
        "club.yaml:4:1: xyzzy:",
        "unknown key 'xyzzy'; expected one of: slug, name,",
    ),
    (
        "missing required field",
        {"club.yaml": 'slug: club\norganization_number: "914820332"\n'},
        "club.yaml:1:1: (document):",
        "missing required key 'name'",
    ),
    (
        "missing nested field",
        club("invoicing:\n  enabled: true\n"),
        "club.yaml:4:1: invoicing:",
        "missing required key 'next_invoice_number'",
    ),
    (
        "wrong type",
        club("billing:\n  licenses: many\n"),
        "club.yaml:5:13: billing.licenses:",
        "expected a valid integer, unable to parse string as an integer; got 'many'",
    ),
    (
        "negative number",
        club("billing:\n  licenses: -1\n"),
        "club.yaml:5:13: billing.licenses:",
        "greater than or equal to 0",
    ),
    (
        "list where a mapping is expected",
        club("billing:\n  - licenses: 1\n"),
        "club.yaml:4:1: billing:",
        "expected a valid dictionary",
    ),
    (
        "unknown option value",
        club("billing:\n  licenses: 1\n  interval: weekly\n"),
        "club.yaml:6:13: billing.interval:",
        "expected one of 'monthly', 'quarterly' or 'yearly'; got 'weekly'",
    ),
    (
        "unknown connector",
        club("connections:\n  - connector: eventor-finland\n    token: {secret: 'env:X'}\n"),
        "club.yaml:5:16: connections[0].connector:",
        "expected one of 'eventor-norway', 'eventor-norway-test' or 'eventor-sweden'",
    ),
    (
        "unknown program",
        club(OWNER.replace("owner}", "owner, programs: {payrol: user}}")),
        "club.yaml:5:",
        "unknown key 'payrol'; expected one of 'invoicing', 'accounting', 'payroll'",
    ),
    (
        "bad language",
        club(
            "email_templates:\n  - {kind: invoice, language: Norsk, name: F, subject: S, body: B}\n"
        ),
        "club.yaml:5:",
        "expected an ISO 639-1 language code",
    ),
    # -- identity
    (
        "invalid slug",
        {"Club_1.yaml": 'slug: Club_1\nname: C\norganization_number: "914820332"\n'},
        "Club_1.yaml:1:7: slug:",
        "expected a slug: 2 to 63 lower-case letters",
    ),
    (
        "stem differs from slug",
        {"klubb.yaml": HEAD},
        "klubb.yaml:1:7: slug:",
        "slug 'club' differs from the file name 'klubb.yaml'; expected the file to be named"
        " club.yaml",
    ),
    (
        "bad organisation number",
        {"club.yaml": 'slug: club\nname: Club\norganization_number: "914820333"\n'},
        "club.yaml:3:22: organization_number:",
        "not a valid Norwegian organisation number (organisasjonsnummer: 9 digits, MOD11)",
    ),
    (
        "both identity numbers",
        club('personal_number: "15037810034"\n'),
        "club.yaml:1:1: (document):",
        "exactly one of organization_number or personal_number is required",
    ),
    (
        "bad personal number",
        {"club.yaml": 'slug: club\nname: Club\npersonal_number: "15037810035"\n'},
        "club.yaml:3:18: personal_number:",
        "not a valid Norwegian personal number",
    ),
    (
        "bad e-mail",
        club("contact:\n  email: not-an-address\n"),
        "club.yaml:5:10: contact.email:",
        "expected an e-mail address like name@example.no",
    ),
    # -- bank accounts
    (
        "bad Norwegian account number",
        club("bank_accounts:\n  - {account_number: '15034210002', invoice_account: true}\n"),
        "club.yaml:5:22: bank_accounts[0].account_number:",
        "not a valid Norwegian account number (11 digits, MOD11)",
    ),
    (
        "bad IBAN checksum",
        club(f"bank_accounts:\n  - account_number: '{ACCOUNT}'\n    iban: NO7515034210001\n"),
        "club.yaml:6:11: bank_accounts[0].iban:",
        "not a valid IBAN (mod-97 check)",
    ),
    (
        "IBAN of another account",
        club(f"bank_accounts:\n  - account_number: '{ACCOUNT}'\n    iban: NO2412063450004\n"),
        "club.yaml:6:11: bank_accounts[0].iban:",
        "iban NO2412063450004 does not belong to account_number 15034210001",
    ),
    (
        "bad BIC",
        club(f"bank_accounts:\n  - account_number: '{ACCOUNT}'\n    swift: DNB1\n"),
        "club.yaml:6:12: bank_accounts[0].swift:",
        "not a valid BIC/SWIFT code (8 or 11 characters)",
    ),
    (
        "two invoice accounts",
        club(
            "bank_accounts:\n"
            f"  - {{account_number: '{ACCOUNT}', invoice_account: true,"
            " default_for_payments: true}\n"
            "  - {account_number: '12063450004', invoice_account: true}\n"
        ),
        "club.yaml:6:37: bank_accounts[1].invoice_account:",
        "invoice_account is also true on bank_accounts[0]; expected exactly one",
    ),
    (
        "no payment account",
        club(f"bank_accounts:\n  - {{account_number: '{ACCOUNT}', invoice_account: true}}\n"),
        "club.yaml:4:1: bank_accounts:",
        "no bank account has default_for_payments: true; expected exactly one",
    ),
    (
        "same account listed twice",
        club(
            "bank_accounts:\n"
            f"  - {{account_number: '{ACCOUNT}', invoice_account: true,"
            " default_for_payments: true}\n"
            "  - {account_number: '1503.42.10001'}\n"
        ),
        "club.yaml:6:22: bank_accounts[1].account_number:",
        "account_number '15034210001' is listed twice (first at bank_accounts[0])",
    ),
    # -- users
    (
        "no owner",
        club("users:\n  - {email: a@club.no, name: A, role: admin}\n"),
        "club.yaml:4:1: users:",
        "no user has role 'owner'; expected exactly one owner",
    ),
    (
        "no owner in an empty users list",
        club("users: []\n"),
        "club.yaml:4:1: users:",
        "no user has role 'owner'",
    ),
    (
        "two owners",
        club(OWNER + "  - {email: b@club.no, name: B, role: owner}\n"),
        "club.yaml:6:39: users[1].role:",
        "a second owner (the first is users[0]); expected exactly one owner",
    ),
    (
        "same user twice",
        club(OWNER + "  - {email: BOSS@club.no, name: B}\n"),
        "club.yaml:6:13: users[1].email:",
        "email 'boss@club.no' is listed twice (first at users[0])",
    ),
    # -- templates and connections
    (
        "merge field of no field's shape in a subject",
        club(
            "email_templates:\n  - kind: invoice\n    language: nb\n    name: F\n"
            "    subject: 'Faktura {Nummer 1}'\n    body: Hei\n"
        ),
        "club.yaml:8:14: email_templates[0].subject:",
        "{Nummer 1} at character 9 is not a merge field name",
    ),
    (
        "bad language of the tenant",
        club("invoicing: {next_invoice_number: 1, language: ../x}\n"),
        "club.yaml:4:47:",
        "invoicing.language: expected an ISO 639-1 language code",
    ),
    (
        "bad PDF template",
        club("invoicing: {next_invoice_number: 1, pdf_template: 'A4 /x'}\n"),
        "club.yaml:4:51:",
        "invoicing.pdf_template: expected the name of a PDF template",
    ),
    (
        "unclosed brace in a body",
        club(
            "email_templates:\n  - kind: order\n    language: nb\n    name: F\n"
            "    subject: S\n    body: 'Hei {Customer.Name'\n"
        ),
        "club.yaml:9:11: email_templates[0].body:",
        "unclosed '{' at character 5",
    ),
    (
        "two templates for one kind and language",
        club(
            "email_templates:\n"
            "  - {kind: invoice, language: nb, name: A, subject: S, body: B}\n"
            "  - {kind: invoice, language: nb, name: B, subject: S, body: B}\n"
        ),
        "club.yaml:6:12: email_templates[1].kind:",
        "template for kind/language 'invoice/nb' is listed twice",
    ),
    (
        "two connections to one connector",
        club(
            "connections:\n"
            "  - {connector: eventor-norway, token: {secret: 'env:T4O_SECRET_CLUB_TOKEN'}}\n"
            "  - {connector: eventor-norway, token: {secret: 'env:T4O_SECRET_CLUB_TOKEN'}}\n"
        ),
        "club.yaml:6:17: connections[1].connector:",
        "connector 'eventor-norway' is listed twice",
    ),
    # -- secrets
    (
        "plain-text token",
        club("connections:\n  - connector: eventor-norway\n    token: s3cr3t-planted\n"),
        "club.yaml:6:12: connections[0].token:",
        "a plain value is not allowed here; expected a secret reference {secret: env:NAME}",
    ),
    (
        "secret pasted into the reference",
        club(
            "connections:\n  - connector: eventor-norway\n    token:\n"
            "      secret: s3cr3t-planted\n"
        ),
        "club.yaml:7:15: connections[0].token.secret:",
        "not a secret reference; expected a secret reference",
    ),
    (
        "missing environment variable",
        club(
            "connections:\n  - connector: eventor-norway\n"
            "    token: {secret: 'env:T4O_SECRET_CLUB_NOPE'}\n"
        ),
        "club.yaml:6:5: connections[0].token:",
        "environment variable T4O_SECRET_CLUB_NOPE is not set; expected it to hold the secret of"
        " tenant 'club'",
    ),
    (
        "environment variable without the operator's prefix",
        club("connections:\n  - connector: eventor-norway\n    token: {secret: 'env:HOME'}\n"),
        "club.yaml:6:5: connections[0].token:",
        "environment variable HOME is not allowed: secret variables must start with T4O_SECRET_",
    ),
    (
        "the tool's own variable as a secret",
        club(
            "connections:\n  - connector: eventor-norway\n"
            "    token: {secret: 'env:T4O_API_TOKEN'}\n"
        ),
        "club.yaml:6:5: connections[0].token:",
        "T4O_API_TOKEN is a setting of t4o-reconcile itself, never a secret",
    ),
    (
        "secret file without a secrets directory",
        club(
            "connections:\n  - connector: eventor-norway\n"
            "    token: {secret: 'file:club/gone.txt'}\n"
        ),
        "club.yaml:6:5: connections[0].token:",
        "file:club/gone.txt needs a secrets directory: pass --secrets-dir or set T4O_SECRETS_DIR",
    ),
    (
        "absolute secret file",
        club(
            "connections:\n  - connector: eventor-norway\n    token: {secret: 'file:/etc/passwd'}\n"
        ),
        "club.yaml:6:5: connections[0].token:",
        "file:/etc/passwd: expected a path relative to the secrets directory",
    ),
    (
        "secret file above the secrets directory",
        club(
            "connections:\n  - connector: eventor-norway\n    token: {secret: 'file:a/../../x'}\n"
        ),
        "club.yaml:6:5: connections[0].token:",
        "file:a/../../x: '..' is not allowed",
    ),
    (
        "user e-mail with path characters",
        club("users:\n  - {email: 'a@b.no/../../victim', name: A, role: owner}\n"),
        "club.yaml:5:13: users[0].email:",
        "expected an e-mail address like name@example.no, without spaces, control characters"
        " or any of / \\ ? # %",
    ),
    (
        "user e-mail with a dot-dot",
        club("users:\n  - {email: 'a..b@b.no', name: A, role: owner}\n"),
        "club.yaml:5:13: users[0].email:",
        "'..'",
    ),
    (
        "agreement name with a slash",
        {
            **club("agreement: NOF\n"),
            AGREEMENTS: "agreements:\n  - {name: 'a/b', customer_number: '1'}\n",
        },
        "_agreements.yaml:2:",
        "agreements[0].name:",
    ),
    # -- across files
    (
        "unknown agreement",
        {
            **club("agreement: Nowhere\n"),
            AGREEMENTS: "agreements:\n  - {name: NOF, customer_number: '1'}\n",
        },
        "club.yaml:4:12: agreement:",
        "unknown agreement 'Nowhere'; expected one defined in _agreements.yaml (defined: 'NOF')",
    ),
    (
        "agreement without an agreements file",
        club("agreement: NOF\n"),
        "club.yaml:4:12: agreement:",
        "agreement 'NOF' is named but there is no _agreements.yaml",
    ),
    (
        "duplicate slug across files",
        {"club.yaml": HEAD, "club.yml": HEAD},
        "club.yml:1:7: slug:",
        "slug 'club' is already used by",
    ),
    (
        "file names differing only in case",
        {"club.yaml": HEAD, "Club.yaml": HEAD},
        "club.yaml:1:1: (document):",
        "differs only in case",
    ),
    (
        "organisation number shared with another owner",
        {
            "club.yaml": HEAD + OWNER,
            "club-b.yaml": HEAD.replace("club", "club-b") + OWNER.replace("boss@", "other@"),
        },
        "club.yaml:3:22: organization_number:",
        "organization number 914820332 is also used by tenant 'club-b'",
    ),
    (
        "bank account on two tenants",
        {
            "club.yaml": HEAD + f"bank_accounts:\n  - account_number: '{ACCOUNT}'\n" + OWNER,
            "club-b.yaml": 'slug: club-b\nname: B\norganization_number: "994123459"\n'
            + f"bank_accounts:\n  - account_number: '{ACCOUNT}'\n"
            + OWNER.replace("boss@", "other@"),
        },
        "club.yaml:5:21: bank_accounts[0].account_number:",
        "bank account 15034210001 is also used by tenant 'club-b'",
    ),
    (
        "agreement defined twice",
        {
            **club(),
            AGREEMENTS: "agreements:\n  - {name: NOF, customer_number: '1'}\n"
            "  - {name: NOF, customer_number: '2'}\n",
        },
        "_agreements.yaml:3:12: agreements[1].name:",
        "agreement 'NOF' is defined twice (first at agreements[0])",
    ),
    (
        "bad agreements file",
        {**club(), AGREEMENTS: "agreements:\n  - {name: NOF, customer_no: '1'}\n"},
        "_agreements.yaml:2:17: agreements[0].customer_no:",
        "unknown key 'customer_no'; did you mean 'customer_number'?",
    ),
    (
        "agreements file that is a list",
        {**club(), AGREEMENTS: "- {name: NOF, customer_number: '1'}\n"},
        "_agreements.yaml:1:1: (document):",
        "expected a mapping of agreements",
    ),
    # -- _defaults.yaml
    (
        "bad value inherited from defaults",
        {**club(), "_defaults.yaml": "billing:\n  licenses: 1\n  interval: weekly\n"},
        "_defaults.yaml:3:13: billing.interval:",
        "expected one of 'monthly', 'quarterly' or 'yearly'",
    ),
    (
        "misspelt key in defaults",
        {**club(), "_defaults.yaml": "defaults:\n  timing_sytem: emit\n"},
        "_defaults.yaml:2:3: defaults.timing_sytem:",
        "did you mean 'timing_system'?",
    ),
    (
        "slug in defaults",
        {**club(), "_defaults.yaml": "slug: everyone\n"},
        "_defaults.yaml:1:1: slug:",
        "slug cannot be inherited",
    ),
    (
        "defaults file that is a list",
        {**club(), "_defaults.yaml": "- billing\n"},
        "_defaults.yaml:1:1: (document):",
        "expected a mapping of settings every tenant inherits, got a list",
    ),
    (
        "broken defaults file",
        {**club(), "_defaults.yaml": "billing: [\n"},
        "_defaults.yaml:2:1: (document):",
        "invalid YAML",
    ),
]


@pytest.mark.parametrize(
    ("files", "where", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_is_reported_at_its_place(
    load_files: Loader, files: dict[str, str | bytes], where: str, message: str
) -> None:
    result = load_files(files)

    reported = [short(p) for p in result.problems]
    assert any(line.startswith(where) and message in line for line in reported), reported
    assert result.repository is None or all(p.unresolved_secret for p in result.problems)


def test_there_are_at_least_forty_distinct_bad_inputs() -> None:
    assert len({case[0] for case in CASES}) == len(CASES) >= 40


@pytest.mark.parametrize(
    "files",
    [case[1] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_no_message_holds_a_secret_value(load_files: Loader, files: dict[str, str | bytes]) -> None:
    result = load_files(files)

    for problem in result.problems:
        assert "s3cr3t" not in str(problem)
