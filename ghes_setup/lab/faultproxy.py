"""The `registry-503` fault: a streaming proxy in front of the registry that breaks one upload.

While DIR/faults/registry-503 exists, nginx sends containers.HOSTNAME/v2/ here instead of to
the registry (`if (-f ...)` in the /v2/ location). Everything is forwarded unchanged, except a
blob upload with a body (PATCH or PUT to /v2/<name>/blobs/uploads/...): if the fault can be
claimed, the proxy reads part of the body, answers 503 (the registry's JSON error shape) and
closes the connection. The registry never sees that request, so the upload session is left
incomplete, as after a real mid-upload failure.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import time

from ghes_setup.lab import faults
from ghes_setup.lab.http_common import JsonHandler

_UPLOAD = re.compile(r"^/v2/.+/blobs/uploads/[^/?]+")
_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "transfer-encoding",
}
PART = 64 * 1024  # how much of the body is read before the failure


class FaultProxyHandler(JsonHandler):
    protocol_version = "HTTP/1.1"

    def _has_body(self) -> bool:
        return (
            int(self.headers.get("Content-Length") or 0) > 0
            or "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        )

    def _fail_midway(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        want = min(max(length // 2, 1), PART) if length else PART
        got = 0
        with contextlib.suppress(OSError):
            while got < want:
                chunk = (
                    self.rfile.read1(want - got)
                    if hasattr(self.rfile, "read1")
                    else self.rfile.read(want - got)
                )
                if not chunk:
                    break
                got += len(chunk)
        body = json.dumps(
            {
                "errors": [
                    {
                        "code": "UNAVAILABLE",
                        "message": "service unavailable (lab fault registry-503)",
                        "detail": None,
                    }
                ]
            }
        ).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        self.close_connection = True
        # Drain a little so that the close does not turn into a reset before nginx has read
        # the 503; then drop the connection with the upload unfinished.
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(0.5)
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline and self.rfile.read1(1 << 16):
                pass

    def _forward(self) -> None:
        cfg = self.ctx.config
        upstream = http.client.HTTPConnection(cfg.address, cfg.internal.registry, timeout=900)
        try:
            upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for name, value in self.headers.items():
                if name.lower() not in _HOP:
                    upstream.putheader(name, value)
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            if chunked:
                upstream.putheader("Transfer-Encoding", "chunked")
            upstream.endheaders()
            if chunked:
                self._relay_chunked(upstream)
            else:
                left = int(self.headers.get("Content-Length") or 0)
                while left > 0:
                    chunk = self.rfile.read(min(left, 1 << 16))
                    if not chunk:
                        break
                    upstream.send(chunk)
                    left -= len(chunk)
            resp = upstream.getresponse()
            self.send_response_only(resp.status, resp.reason)
            length = resp.getheader("Content-Length")
            for name, value in resp.getheaders():
                if name.lower() not in _HOP and name.lower() != "content-length":
                    self.send_header(name, value)
            data = b"" if length is not None else resp.read()
            self.send_header("Content-Length", length if length is not None else str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if self.command == "HEAD":
                return
            if length is None:
                self.wfile.write(data)
                return
            while chunk := resp.read(1 << 16):
                self.wfile.write(chunk)
        except OSError as exc:
            self.send_json(
                502,
                {"errors": [{"code": "UNAVAILABLE", "message": f"registry unreachable: {exc}"}]},
            )
        finally:
            upstream.close()

    def _relay_chunked(self, upstream: http.client.HTTPConnection) -> None:
        while True:
            line = self.rfile.readline()
            size = int(line.split(b";")[0].strip() or b"0", 16)
            data = self.rfile.read(size) if size else b""
            self.rfile.readline()  # CRLF after the chunk
            upstream.send(f"{size:x}\r\n".encode() + data + b"\r\n")
            if size == 0:
                return

    def _handle(self) -> None:
        if (
            self.command in ("PATCH", "PUT")
            and _UPLOAD.match(self.path)
            and self._has_body()
            and faults.claim(
                self.ctx.layout, "registry-503", f"{self.command} {self.path.split('?')[0]}"
            )
        ):
            self._fail_midway()
            return
        self._forward()

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle
