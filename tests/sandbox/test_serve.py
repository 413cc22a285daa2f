"""End to end: `t4o-reconcile serve` as a real process on a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from threading import Barrier

import httpx
import pytest

from t4o_reconcile.sandbox.store import Store

from .helpers import Api, tenant_body

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(db: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "t4o_reconcile", "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/openapi.json", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    _, err = process.communicate(timeout=5)
                    raise AssertionError(f"sandbox did not start: {err.decode()}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        assert process.stderr is not None
        banner = process.stderr.read().decode()
        process.stderr.close()
        assert process.stdout is not None
        process.stdout.close()
        assert "sandbox token create" in banner


def test_data_survives_a_restart_on_the_same_database(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    store = Store(db)
    token = store.create_token(partner="nof")
    store.close()
    with serving(db) as url, httpx.Client(base_url=url) as client:
        api = Api(client, token)
        assert api.create("/v1/tenants", tenant_body("ok-skogen")).status_code == 201
        assert api.patch("/v1/tenants/ok-skogen", {"name": "Kept"}).status_code == 200
    with serving(db) as url, httpx.Client(base_url=url) as client:
        tenant = Api(client, token).get("/v1/tenants/ok-skogen")
        assert (tenant.json()["name"], tenant.headers["etag"]) == ("Kept", '"2"')


def test_two_clients_with_the_same_etag_exactly_one_wins(tmp_path: Path) -> None:
    db = tmp_path / "sandbox.db"
    store = Store(db)
    token = store.create_token(partner="nof")
    store.close()
    with serving(db) as url, httpx.Client(base_url=url) as setup_client:
        setup = Api(setup_client, token)
        setup.create("/v1/tenants", tenant_body("ok-skogen"))
        etag = setup.version("/v1/tenants/ok-skogen")
        rounds = 5
        for i in range(rounds):
            barrier = Barrier(2)

            def update(name: str, etag: str = etag, barrier: Barrier = barrier) -> int:
                with httpx.Client(base_url=url) as client:
                    api = Api(client, token)
                    barrier.wait()
                    return api.patch("/v1/tenants/ok-skogen", {"name": name}, etag).status_code

            with ThreadPoolExecutor(2) as pool:
                codes = sorted(pool.map(update, [f"A{i}", f"B{i}"]))
            assert codes == [200, 412]
            etag = setup.version("/v1/tenants/ok-skogen")
        assert etag == f'"{rounds + 1}"'
