"""validate on 1,000 generated tenant files (~150 lines each): is it under 2.5 s?

Runs the real path (``load_repository``: read, C-loader parse, merge, validate, secrets,
cross-file checks) on a temporary directory and prints files/s, wall time and the
ratio to the target. A second run plants one error in 1 % of the files to show the cost
of the round-trip parse that finds positions.

    python benchmarks/validate_scale.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from stdnum.no import kontonr, orgnr

from t4o_reconcile.config.loader import load_repository

TARGET_SECONDS = 2.5


def _complete(prefix: str, valid: object) -> str:
    for digit in "0123456789":
        if valid(prefix + digit):  # type: ignore[operator]
            return prefix + digit
    return ""


def _numbers(kind: str, count: int, start: int) -> list[str]:
    found: list[str] = []
    n = start
    while len(found) < count:
        if kind == "org":
            number = _complete(f"{n:08d}", orgnr.is_valid)
        else:
            number = _complete(f"{n:010d}", kontonr.is_valid)
        if number:
            found.append(number)
        n += 1
    return found


def tenant_text(slug: str, org: str, accounts: list[str]) -> str:
    users = "".join(
        f"  - email: user{u}@{slug}.no\n    name: User {u}\n"
        f"    role: {'owner' if u == 0 else 'member'}\n"
        f"    programs:\n      invoicing: user\n      events: admin\n"
        + ("    custom_invoice_email: true\n" if u == 0 else "")
        for u in range(12)
    )
    banks = "".join(
        f"  - account_number: '{a}'\n    swift: DNBANOKKXXX\n"
        f"    invoice_account: {str(i == 0).lower()}\n"
        f"    default_for_payments: {str(i == 0).lower()}\n"
        for i, a in enumerate(accounts)
    )
    templates = "".join(
        f"  - kind: {kind}\n    language: {lang}\n    name: {kind} {lang}\n"
        f"    subject: 'Faktura {{Number}} fra {{Supplier.Name}}'\n"
        f"    body: |\n      Hei {{Customer.Name}},\n      forfall {{DueDate}}.\n"
        for kind in ("invoice", "order")
        for lang in ("nb", "en")
    )
    return (
        "# yaml-language-server: $schema=../../schemas/tenant.schema.json\n"
        f"slug: {slug}\nname: Club {slug}\norganization_number: '{org}'\n"
        f"contact:\n  email: post@{slug}.no\n  phone: '+47 22 33 44 55'\n"
        f"address:\n  street: Skogveien 1\n  postal_code: '0763'\n  city: Oslo\n  country: NO\n"
        "defaults:\n  timing_system: emit\n"
        "billing:\n  licenses: 12\n  interval: monthly\n"
        "agreement: NOF\n"
        "connections:\n  - connector: eventor-norway\n"
        f"    token:\n      secret: env:T4O_SECRET_BENCH_TOKEN\n"
        "invoicing:\n  next_invoice_number: 100\n  pdf_template: compact\n"
        f"bank_accounts:\n{banks}users:\n{users}email_templates:\n{templates}"
    )


def generate(root: Path, count: int) -> None:
    orgs = _numbers("org", count, 91000000)
    accounts = _numbers("account", count * 2, 1503000000)
    (root / "_agreements.yaml").write_text("agreements:\n  - {name: NOF, customer_number: '1'}\n")
    (root / "_defaults.yaml").write_text("billing:\n  invoice_recipient: partner\n")
    for i in range(count):
        slug = f"club-{i:04d}"
        text = tenant_text(slug, orgs[i], accounts[2 * i : 2 * i + 2])
        (root / f"{slug}.yaml").write_text(text)


def run(root: Path, label: str, count: int) -> float:
    started = time.perf_counter()
    result = load_repository(root, environ={"T4O_SECRET_BENCH_TOKEN": "bench"})
    wall = time.perf_counter() - started
    print(
        f"{label}: {count} files in {wall:.2f} s = {count / wall:,.0f} files/s;"
        f" {len(result.problems)} problem(s); ratio to the {TARGET_SECONDS} s target:"
        f" {wall / TARGET_SECONDS:.2f}"
    )
    return wall


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, count)
        lines = sum(1 for _ in (root / "club-0000.yaml").open())
        print(f"generated {count} tenant files of {lines} lines")
        run(root, "valid", count)
        for i in range(0, count, 100):
            path = root / f"club-{i:04d}.yaml"
            path.write_text(path.read_text().replace("licenses: 12", "licenses: ten"))
        run(root, "1% with an error", count)


if __name__ == "__main__":
    main()
