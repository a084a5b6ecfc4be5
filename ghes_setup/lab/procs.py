"""Starting, finding and stopping the lab's daemons, always by PID.

Every daemon is started in its own session (so it outlives the command that started it), with
its PID written to DIR/run/<part>.pid. "Is it running" means: that PID exists, is not a zombie,
and its command line still names the expected program (a PID can be reused). Stopping sends
SIGTERM to the PID and to every descendant it has (sshd's per-connection processes call
setsid(), so a process-group kill would miss them), waits until all are gone, and escalates to
SIGKILL after a timeout. Nothing here ever looks processes up by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

# Popen objects of the daemons this process started, so that they are reaped (no zombie, no
# ResourceWarning) when this process is the one that stops them.
_children: dict[int, subprocess.Popen[bytes]] = {}


def spawn(
    argv: Sequence[str],
    *,
    log: Path,
    pid_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    _children[proc.pid] = proc
    pid_file.write_text(f"{proc.pid}\n", encoding="ascii")
    return proc.pid


def read_pid(pid_file: Path) -> int | None:
    try:
        text = pid_file.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, ppid) of a process, or None if it does not exist."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    rest = raw[raw.rfind(")") + 2 :].split()
    return rest[0], int(rest[1])


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def alive(pid: int | None, marker: str | None = None) -> bool:
    """True if `pid` runs (not a zombie) and, given `marker`, its command line contains it."""
    if not pid:
        return False
    stat = _stat(pid)
    if stat is None or stat[0] in ("Z", "X"):
        _reap(pid)
        return False
    if marker is None:
        return True
    return any(marker in part for part in cmdline(pid))


def running(pid_file: Path, marker: str) -> int | None:
    pid = read_pid(pid_file)
    return pid if pid is not None and alive(pid, marker) else None


def descendants(pid: int) -> list[int]:
    """Every process whose parent chain leads to `pid` (children first, depth-first)."""
    parents: dict[int, list[int]] = {}
    for child in _pids():
        stat = _stat(child)
        if stat is not None:
            parents.setdefault(stat[1], []).append(child)
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _reap(pid: int) -> None:
    proc = _children.pop(pid, None)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0)
        if proc.returncode is None:  # still running after all: keep it
            _children[pid] = proc


def reap_children() -> None:
    """Collect the exit status of daemons this process started that have exited."""
    for pid, proc in list(_children.items()):
        if proc.poll() is not None:
            _children.pop(pid, None)


def _signal(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def stop(pid: int, *, timeout: float = 5.0, sig: int = signal.SIGTERM) -> None:
    """Stop `pid` and its descendants; return when none of them exists any more."""
    group = [pid, *descendants(pid)]
    _signal(group, sig)
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in group if alive(p)]
        if not left:
            return
        if time.monotonic() > deadline:
            _signal(left, signal.SIGKILL)
            deadline = time.monotonic() + timeout
            sig = signal.SIGKILL
        time.sleep(0.01)


def stop_pid_file(pid_file: Path, marker: str, *, timeout: float = 5.0) -> int | None:
    """Stop the daemon recorded in `pid_file` (if it is still the one we started)."""
    pid = running(pid_file, marker)
    if pid is not None:
        stop(pid, timeout=timeout)
    with contextlib.suppress(FileNotFoundError):
        pid_file.unlink()
    return pid


def _hex_address(address: str) -> str:
    return f"{struct.unpack('<I', socket.inet_aton(address))[0]:08X}"


def socket_inodes(address: str, port: int, proto: str = "tcp") -> set[int]:
    """Inodes of the listening TCP (or bound UDP) sockets on address:port (/proc/net)."""
    wanted = f"{_hex_address(address)}:{port:04X}"
    found = set()
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/net/{proto}").read_text(encoding="ascii").splitlines()[1:]:
            fields = line.split()
            if fields[1] == wanted and (proto == "udp" or fields[3] == "0A"):
                found.add(int(fields[9]))
    return found


def listeners(address: str, port: int, proto: str = "tcp") -> set[int]:
    """PIDs of the processes holding a listening socket on address:port."""
    inodes = {f"socket:[{inode}]" for inode in socket_inodes(address, port, proto)}
    if not inodes:
        return set()
    owners = set()
    for pid in _pids():
        with contextlib.suppress(OSError), os.scandir(f"/proc/{pid}/fd") as fds:
            for fd in fds:
                with contextlib.suppress(OSError):
                    if os.readlink(fd.path) in inodes:
                        owners.add(pid)
                        break
    return owners


def _pids() -> list[int]:
    with os.scandir("/proc") as entries:
        return [int(e.name) for e in entries if e.name.isdigit()]


def exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def tcp_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_tcp(host: str, port: int, *, timeout: float = 10.0, pid: int | None = None) -> bool:
    """Poll until a TCP connect to host:port succeeds (or the daemon `pid` died)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tcp_answers(host, port, timeout=0.2):
            return True
        if pid is not None and not alive(pid):
            return False
        time.sleep(0.005)
    return False


def port_free(host: str, port: int, kind: int = socket.SOCK_STREAM) -> bool:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True
