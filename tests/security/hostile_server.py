"""A small hostile API server, run as a process by the security tests.

    python -m tests.security.hostile_server PORT MODE [ANSWERS.json]

Every request under /v1 gets the answer of MODE:

- ``html``: 200 with an HTML page;
- ``truncated``: 200 ``application/json`` whose JSON stops half-way;
- ``shape``: 200 JSON pages whose items have the wrong shape;
- ``huge``: 200 JSON of 100 MB, streamed with no length;
- ``hang``: the connection is accepted and never answered;
- ``answers``: the JSON in ANSWERS.json by path (``{"/v1/tenants": {...}}``), so a test can
  serve a real answer with hostile values in it.
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

HUGE_BYTES = 100 * 1024 * 1024
CHUNK = (
    b'"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",' * 64
)


class Hostile(BaseHTTPRequestHandler):
    mode = "html"
    answers: ClassVar[dict[str, Any]] = {}

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def do_PATCH(self) -> None:
        self._answer()

    def do_DELETE(self) -> None:
        self._answer()

    def _answer(self) -> None:
        path = self.path.split("?", 1)[0]
        if self.mode == "hang":
            time.sleep(3600)
            return
        if self.mode == "html":
            self._send(200, "text/html", b"<html><body><h1>Welcome to nginx!</h1></body></html>")
        elif self.mode == "truncated":
            self._send(200, "application/json", b'{"items": [{"slug": "ok-sko')
        elif self.mode == "shape":
            body: dict[str, Any]
            if path.startswith("/v1/bulk/"):
                body = {"items": [{"slug": "ok-skogen", "users": 42, "tenant": []}]}
            else:
                body = {"items": [{"slug": "ok-skogen", "name": 7}], "next_cursor": None}
            self._send(200, "application/json", json.dumps(body).encode())
        elif self.mode == "huge":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"items": [')
            sent = 0
            try:
                while sent < HUGE_BYTES:
                    self.wfile.write(CHUNK)
                    sent += len(CHUNK)
                self.wfile.write(b'"end"], "next_cursor": null}')
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            body = self.answers.get(path, {"items": [], "next_cursor": None})
            self._send(200, "application/json", json.dumps(body).encode())

    def _send(self, status: int, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    port, mode = int(sys.argv[1]), sys.argv[2]
    Hostile.mode = mode
    if len(sys.argv) > 3:
        with open(sys.argv[3], encoding="utf-8") as handle:
            Hostile.answers = json.load(handle)
    server = ThreadingHTTPServer(("127.0.0.1", port), Hostile)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
