"""What labd's HTTP services share: the lab context, a JSON-speaking request handler, servers.

All of labd's services are `http.server.ThreadingHTTPServer`s behind nginx (which terminates
TLS), each on its own loopback port of the lab address. They are test infrastructure: small,
synchronous, and honest about errors (JSON bodies, the status codes GHES documents).
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ghes_setup.lab.apply import ApplyEngine
from ghes_setup.lab.layout import LabConfig, Layout, Token
from ghes_setup.lab.settings import SettingsStore


@dataclass
class LabContext:
    layout: Layout
    config: LabConfig
    store: SettingsStore
    engine: ApplyEngine

    def token(self, value: str) -> Token | None:
        import hmac

        for tok in self.config.tokens:
            if hmac.compare_digest(tok.value.encode(), value.encode()):
                return tok
        return None


class LabServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], ctx: LabContext
    ) -> None:
        self.ctx = ctx
        super().__init__(address, handler)


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LabServer
    server_version = "ghes-lab"
    sys_version = ""

    @property
    def ctx(self) -> LabContext:
        return self.server.ctx

    def parse_request(self) -> bool:
        self._body: bytes | None = None  # one handler object serves every request of a connection
        return super().parse_request()

    # -- request
    @property
    def url_path(self) -> str:
        return urlsplit(self.path).path

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.path).query)

    def read_body(self) -> bytes:
        """The request body (read once; later calls return the same bytes)."""
        cached: bytes | None = getattr(self, "_body", None)
        if cached is None:
            length = int(self.headers.get("Content-Length") or 0)
            cached = self.rfile.read(length) if length > 0 else b""
            self._body = cached
        return cached

    def json_body(self) -> Any:
        raw = self.read_body()
        if not raw.strip():
            return None
        return json.loads(raw)

    def basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user, password

    # -- response
    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else (json.dumps(body, indent=2) + "\n").encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

    def send_text(
        self, status: int, text: str, content_type: str = "text/plain; charset=utf-8"
    ) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet by default: labd's log is for errors. Set LAB_HTTP_LOG=1 to see every request.
        import os
        import sys

        if os.environ.get("LAB_HTTP_LOG"):
            sys.stderr.write(
                f"{self.log_date_time_string()} {self.address_string()} {format % args}\n"
            )


def serve(server: ThreadingHTTPServer, name: str) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread
