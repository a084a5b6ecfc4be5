"""Talking to labd's control socket from the lab CLI and the test fixture (as root)."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass, field
from typing import Any

from ghes_setup.lab.layout import Layout


class ControlError(RuntimeError):
    """labd is not running or did not answer."""


@dataclass
class Answer:
    code: int
    stdout: str = ""
    stderr: str = ""
    result: dict[str, Any] = field(default_factory=dict)


def call(
    layout: Layout, cmd: str, *args: str, stdin: str | None = None, timeout: float = 300
) -> Answer:
    request: dict[str, Any] = {"cmd": cmd, "args": list(args)}
    if stdin is not None:
        request["stdin"] = stdin
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(layout.control_socket))
    except OSError as exc:
        sock.close()
        raise ControlError(
            f"labd is not running ({layout.control_socket}: {exc.strerror})"
        ) from None
    answer = Answer(code=1)
    out: list[str] = []
    err: list[str] = []
    try:
        sock.sendall(json.dumps(request).encode() + b"\n")
        with sock.makefile("rb") as lines:
            for line in lines:
                msg = json.loads(line)
                if "exit" in msg:
                    answer.code = int(msg["exit"])
                    break
                if "result" in msg:
                    answer.result = dict(msg["result"])
                elif msg.get("stream") == "stdout":
                    out.append(str(msg.get("data", "")))
                else:
                    err.append(str(msg.get("data", "")))
    except OSError as exc:
        raise ControlError(f"labd did not answer {cmd}: {exc}") from None
    finally:
        sock.close()
    answer.stdout, answer.stderr = "".join(out), "".join(err)
    return answer
