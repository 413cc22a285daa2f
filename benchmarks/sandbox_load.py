"""Load on the sandbox API over loopback: bounded, self-stopping, prints its figures.

    python benchmarks/sandbox_load.py [--tenants 1000] [--clients 20] [--seconds 10]

Seeds N tenants of ~40 items each straight into a fresh SQLite file (through the Store,
not HTTP, for speed), starts `t4o-reconcile serve` on a free port, then measures:

1. the paged bulk read of every tenant by one client (target: under 1 s for 1,000);
2. C concurrent clients doing paged bulk reads for S/2 seconds;
3. C concurrent clients doing PATCH updates (If-Match from a GET) for S/2 seconds;

and prints requests/s and p50/p99 latency for each.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from t4o_reconcile.sandbox import store as sections
from t4o_reconcile.sandbox.store import Principal, Store, secret_out
from t4o_reconcile.vocabulary import PROGRAMS

BULK_BOUND_S = 1.0
PARTNER = "bench"


def seed(db: Path, tenants: int) -> str:
    """N tenants, each: identity, invoicing, membership, 25 users, 8 bank accounts,
    2 connections, 4 email templates and an email account (41 items)."""
    store = Store(db)
    token = store.create_token(partner=PARTNER)
    with store.transaction(Principal(PARTNER), write=True) as tx:
        for n in range(tenants):
            slug = f"club-{n:05d}"
            tx.insert_tenant(
                slug,
                PARTNER,
                f"owner@{slug}.no",
                {
                    "slug": slug,
                    "name": f"Club {n}",
                    "organization_number": None,
                    "personal_number": "15108695088",
                    "contact": {"email": f"post@{slug}.no", "phone": "+4722334455"},
                    "address": {
                        "street": "Skogveien 1",
                        "postal_code": "0150",
                        "city": "Oslo",
                        "country": "NO",
                    },
                    "defaults": {"timing_system": "emit", "finish_code": None},
                    "billing": {"licenses": 5, "invoice_recipient": "client", "interval": "yearly"},
                },
            )
            tx.put(
                slug,
                sections.INVOICING,
                "",
                {
                    "enabled": True,
                    "next_invoice_number": 1001,
                    "invoices_from_external_system": False,
                    "next_customer_number": None,
                    "pdf_template": "standard",
                    "last_invoice_number": 1000,
                    "last_customer_number": 0,
                },
                1,
            )
            tx.put(slug, sections.MEMBERSHIP, "", {"agreement": None}, 1)
            for u in range(25):
                email = f"owner@{slug}.no" if u == 0 else f"user{u}@{slug}.no"
                user = {
                    "email": email,
                    "name": f"User {u}",
                    "role": "owner" if u == 0 else "member",
                    "programs": dict.fromkeys(PROGRAMS, "user"),
                    "status": "active",
                }
                tx.put(slug, sections.USERS, email, user, 1)
            for b in range(8):
                # Made-up keys: the benchmark reads them, it never validates them.
                number = f"{n:05d}{b:06d}"
                account: dict[str, Any] = {
                    "account_number": number,
                    "iban": None,
                    "swift": None,
                    "invoice_account": b == 0,
                    "default_for_payments": b == 0,
                }
                tx.put(slug, sections.BANK_ACCOUNTS, number, account, 1)
            for connector in ("eventor-norway", "eventor-sweden"):
                data = {"connector": connector, "token": secret_out("secret")}
                tx.put(slug, sections.CONNECTIONS, connector, data, 1)
            for kind in ("invoice", "order"):
                for language in ("nb", "en"):
                    template = {
                        "kind": kind,
                        "language": language,
                        "name": f"{kind} {language}",
                        "subject": "Faktura {Number}",
                        "body": "Forfall {DueDate}\nHilsen {Supplier.Name}",
                    }
                    tx.put(slug, sections.EMAIL_TEMPLATES, f"{kind}/{language}", template, 1)
            smtp = {
                "account_name": "Faktura",
                "display_name": f"Club {n}",
                "address": f"faktura@{slug}.no",
                "username": "faktura",
                "password": secret_out("smtp"),
                "smtp_host": "smtp.example.no",
                "smtp_port": 587,
                "encryption": "auto",
            }
            tx.put(slug, sections.EMAIL_ACCOUNT, "", smtp, 1)
    store.close()
    return token


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(db: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "t4o_reconcile", "serve", "--db", str(db), "--port", str(port)],
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/openapi.json", timeout=1)
            return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("the sandbox did not start within 30 s")


async def read_all(client: httpx.AsyncClient) -> tuple[int, int, list[float]]:
    """Pages and tenants of one full paged bulk read, with each page's latency."""
    cursor: str | None = None
    pages = tenants = 0
    latencies = []
    while True:
        params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
        started = time.perf_counter()
        response = await client.get("/v1/bulk/tenants", params=params)
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        body = response.json()
        pages += 1
        tenants += len(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages, tenants, latencies


async def update_loop(
    client: httpx.AsyncClient, worker: int, tenants: int, clients: int, stop: float
) -> list[float]:
    latencies = []
    n = worker
    while time.monotonic() < stop:
        path = f"/v1/tenants/club-{n % tenants:05d}"
        etag = (await client.get(path)).headers["etag"]
        started = time.perf_counter()
        response = await client.patch(
            path, json={"name": f"Renamed {time.monotonic_ns()}"}, headers={"If-Match": etag}
        )
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
        n += clients
    return latencies


async def bulk_loop(client: httpx.AsyncClient, stop: float) -> list[float]:
    latencies: list[float] = []
    while time.monotonic() < stop:
        latencies += (await read_all(client))[2]
    return latencies


def report(name: str, latencies: list[float], seconds: float) -> None:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    print(
        f"{name:<24} {len(ordered) / seconds:8.1f} req/s   p50 {p50:7.1f} ms"
        f"   p99 {p99:7.1f} ms   ({len(ordered)} requests)"
    )


async def run(url: str, token: str, tenants: int, clients: int, seconds: float) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, limits=limits, timeout=60
    ) as client:
        await read_all(client)  # warm-up: page cache, connection
        started = time.perf_counter()
        pages, seen, _ = await read_all(client)
        total = time.perf_counter() - started
        assert seen == tenants, f"bulk read saw {seen} of {tenants} tenants"
        print(
            f"paged bulk read of {seen} tenants: {pages} requests, {total:.3f} s"
            f"  (ratio to the {BULK_BOUND_S:g} s bound: {total / BULK_BOUND_S:.2f})"
        )
        phase = seconds / 2
        stop = time.monotonic() + phase
        results = await asyncio.gather(*(bulk_loop(client, stop) for _ in range(clients)))
        report(f"bulk page x{clients} clients", [x for r in results for x in r], phase)
        stop = time.monotonic() + phase
        results = await asyncio.gather(
            *(update_loop(client, w, tenants, clients, stop) for w in range(clients))
        )
        report(f"PATCH x{clients} clients", [x for r in results for x in r], phase)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "load.db"
        started = time.perf_counter()
        token = seed(db, args.tenants)
        print(f"seeded {args.tenants} tenants x 41 items in {time.perf_counter() - started:.2f} s")
        process, url = start(db)
        try:
            asyncio.run(run(url, token, args.tenants, args.clients, args.seconds))
        finally:
            process.terminate()
            process.wait(timeout=10)


if __name__ == "__main__":
    main()
