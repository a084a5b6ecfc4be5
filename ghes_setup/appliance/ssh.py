"""`SshTransport`: the GHES settings protocol over the appliance's admin shell (port 122).

The connection itself (dial, host key, login, channels) is `ssh_connection.SshConnection`;
this module says what runs in its channels and reads the answers. The two are the only
modules that import paramiko (an import-linter contract says so). Its habits come from
backup-utils' `ghe-ssh` (one entry point, batch mode, scripts piped to bash) and from the lab
notes (docs/reference/lab-findings.md §4):

- Reads take one exec: a fixed script that prints `ghe-version`, the replica state and every
  requested `ghe-config` key (base64, so multi-line PEM survives).
- Writes take one exec of a fixed two-phase script: it journals the old values to
  ~/.ghes-setup/journal on the appliance, writes every key, answers PREPARED and waits for
  COMMIT on standard input. A failing write, end of input (the connection dropped), SIGHUP or
  SIGTERM restore the journalled values; a script killed outright leaves the journal, which
  the next script (of any run) restores first, under a lock. Values travel base64 on standard
  input, never on a command line (`ps`, sshd logs) and never through a shell parser. The
  remote `ghe-config KEY VALUE` call itself is the one place a value is an argument: that is
  ghe-config's only documented interface.
- Configuration runs start `ghe-config-apply` detached (setsid) with its output and exit code
  under ~/.ghes-setup/runs/<run_id>/, so a dropped connection does not kill the run and its
  status and log can be read by a later connection.

A connection lost in the middle of an operation becomes `Unreachable` naming host:port and
the operation.
"""

from __future__ import annotations

import base64
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from importlib.resources import files
from typing import TYPE_CHECKING, Final

from ghes_setup import facts
from ghes_setup.appliance.ssh_connection import Dropped, SshConnection, SshOptions, error_line
from ghes_setup.appliance.transport import (
    ApplianceInfo,
    ApplyEvent,
    ApplyRun,
    ApplyStatus,
    EventBatch,
    Settings,
    SettingsRejected,
    SettingValue,
    TransportBase,
    b64,
    check_run_id,
    decode_config,
    encode_config,
    normalise_pem,
    spec,
)
from ghes_setup.errors import (
    ApplianceResponseError,
    RefusedTarget,
    Unreachable,
)
from ghes_setup.facts import GhesVersion
from ghes_setup.secrets import scrub

if TYPE_CHECKING:
    import paramiko

_KEY_PATTERN: Final = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
_ERROR_WORDS: Final = re.compile(r"\b(error|failed|failure|fatal)\b", re.IGNORECASE)
COMMIT_WAIT_S: Final = 60  # how long the write script waits for COMMIT before rolling back

# ---------------------------------------------------------------------------- remote scripts
# The fixed scripts the admin shell runs live in ghes_setup/appliance/scripts/*.sh (package
# data, checked by shellcheck in CI); each says its arguments and protocol in its header.
# Values travel length-framed ("... LENGTH\n" + LENGTH raw bytes + "\n", LC_ALL=C so that a
# length is bytes) and are read with bash builtins: no base64 per key, so a run costs about
# one ghe-config call per key read or written; a read runs its calls at once (one background
# job each), a write one after the other. prelude.sh (the lock and the journal of a killed
# write) comes first in every script that reads or changes settings.


def _script(name: str) -> str:
    """The text of scripts/NAME.sh, as shipped in the package."""
    return "\n" + (files(__package__) / "scripts" / f"{name}.sh").read_text(encoding="utf-8")


PRELUDE: Final = _script("prelude")
READ_SCRIPT: Final = PRELUDE + _script("read-settings").replace(
    "%REPL%", facts.REPLICA_STATE_FILE
).replace("%CLUSTER%", facts.CLUSTER_STATE_FILE)
WRITE_SCRIPT: Final = PRELUDE + _script("write-settings").replace("%WAIT%", str(COMMIT_WAIT_S))
APPLY_SCRIPT: Final = PRELUDE + _script("start-config-apply")
STATUS_SCRIPT: Final = _script("config-apply-status")
UTILITY_SCRIPT: Final = _script("utility")


def script_name(command: str) -> str:
    """The name of the fixed script a `remote_command` runs, for the debug trace: never its
    arguments or standard input (they carry setting keys and values)."""
    for name, script in (
        ("read-settings", READ_SCRIPT),
        ("write-settings", WRITE_SCRIPT),
        ("start-config-apply", APPLY_SCRIPT),
        ("config-apply-status", STATUS_SCRIPT),
        ("utility", UTILITY_SCRIPT),
    ):
        if shlex.quote(script) in command:
            return name
    return "command"


def remote_command(script: str, args: Sequence[str] = ()) -> str:
    """`bash -c SCRIPT ghes-setup ARGS...`, quoted for the remote login shell."""
    return " ".join(["bash", "-c", shlex.quote(script), "ghes-setup", *map(shlex.quote, args)])


def _unb64(text: str) -> str:
    return base64.b64decode(text).decode("utf-8", errors="replace") if text else ""


# ---------------------------------------------------------------------------- the transport


class SshTransport(TransportBase):
    """`ApplianceTransport` over the admin SSH shell: the settings protocol, spoken over
    `connection` (which connects on first use). Thread-safe."""

    def __init__(self, connection: SshConnection) -> None:
        self.connection = connection
        self._prefetched: dict[str, SettingValue] = {}
        self.last_run_id: str | None = None

    @property
    def options(self) -> SshOptions:
        return self.connection.options

    @property
    def name(self) -> str:
        return "ssh"

    def supports(self, setting: str) -> bool:
        return bool(_KEY_PATTERN.match(spec(setting).ghe_config_key))

    def connect_ahead(self) -> None:
        """`SshConnection.connect_ahead`: connect in a thread, running nothing yet."""
        self.connection.connect_ahead()

    def close(self) -> None:
        self.connection.close()

    # ------------------------------------------------------------------ execs
    def _open(self, command: str) -> paramiko.Channel:
        return self.connection.open(command, script_name(command))

    def _run_raw(self, command: str, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
        return self.connection.run(command, script_name(command), stdin)

    def _run(self, command: str, stdin: bytes | None = None) -> tuple[int, str, str]:
        rc, out, err = self._run_raw(command, stdin)
        return rc, out.decode("utf-8", errors="replace"), err.decode("utf-8", errors="replace")

    def _lost(self, operation: str, reason: str) -> Unreachable:
        self.close()
        return Unreachable(
            f"SSH connection to {self.options.where} lost during {operation}: {reason}",
            hint="check the network and run the command again",
        )

    # ------------------------------------------------------------------ reads
    def identify(self, prefetch: Iterable[str] = ()) -> ApplianceInfo:
        """Who the appliance is; `prefetch` settings are read in the same round trip and
        served to the next `read_settings` (until anything is written)."""
        names = list(dict.fromkeys(["hostname", *prefetch]))
        info, raw = self._read(identify=True, keys=[spec(n).ghe_config_key for n in names])
        assert info is not None
        self._prefetched = {n: decode_config(n, raw[spec(n).ghe_config_key]) for n in names}
        return info

    def read_settings(self, names: Iterable[str] | None = None) -> Settings:
        wanted = list(names) if names is not None else [s.name for s in facts.SETTINGS]
        cached = self._prefetched  # kept until anything is written or applied
        if all(n in cached for n in wanted):
            return Settings({n: cached[n] for n in wanted})
        raw = self.read_keys([spec(n).ghe_config_key for n in wanted])
        return Settings({n: decode_config(n, raw[spec(n).ghe_config_key]) for n in wanted})

    def forget_prefetch(self) -> None:
        self._prefetched = {}

    def read_keys(self, keys: Iterable[str]) -> dict[str, str | None]:
        """Raw ghe-config values (None: unset), all in one exec."""
        _, raw = self._read(identify=False, keys=list(keys))
        return raw

    def _read(
        self, *, identify: bool, keys: list[str]
    ) -> tuple[ApplianceInfo | None, dict[str, str | None]]:
        for key in keys:
            _check_key(key)
        try:
            rc, out, _ = self._run_raw(
                remote_command(READ_SCRIPT, ["1" if identify else "0", *keys])
            )
        except Dropped as exc:
            raise self._lost("reading settings", str(exc)) from None
        records = parse_read_output(out)
        if rc != 0 or records is None:
            raise self._script_error("reading settings", rc, out.decode(errors="replace"))
        values: dict[str, str | None] = {}
        fields: dict[str, str] = {}
        for head, data in records:
            tag, *args = head.split(" ")
            if tag != "K":
                fields[tag] = data
                continue
            key, code = args
            if code not in ("0", "1"):
                raise ApplianceResponseError(
                    f"ghe-config {key} failed on {self.options.where} (exit {code})",
                    hint="run it in the admin shell to see why",
                )
            values[key] = key_value(code, data)
        missing = [k for k in keys if k not in values]
        if missing:
            raise ApplianceResponseError(f"no answer for {', '.join(missing)} over SSH")
        info = None
        if identify:
            info = self._parse_info(fields, values.get(spec("hostname").ghe_config_key))
        return info, values

    def _parse_info(self, fields: Mapping[str, str], hostname: str | None) -> ApplianceInfo:
        version_text = fields.get("V", "")
        match = facts.GHE_VERSION_PATTERN.search(version_text)
        if not match:
            raise ApplianceResponseError(
                f"{self.options.where}: ghe-version printed {version_text.strip()[:80]!r}, "
                "not a GitHub Enterprise Server version",
                hint="is this a GHES appliance's admin shell (port 122)?",
            )
        version = GhesVersion.parse(match.group(1))
        tail = version_text[match.end() :].split()
        repl = fields.get("R", "").strip()
        cluster = fields.get("C", "0") == "1"
        topology = "Cluster" if cluster else ("Ha" if repl else "SingleNode")
        return ApplianceInfo(
            version=version,
            via=self.name,
            hostname=hostname,
            platform=tail[0] if tail else None,
            build=" ".join(tail[1:]) or None,
            is_replica=repl == "replica",
            topology=topology,
        )

    def _script_error(self, operation: str, rc: int, out: str) -> ApplianceResponseError:
        last = scrub(out.strip().splitlines()[-1] if out.strip() else "")
        if last.startswith("ERR no-flock"):
            return ApplianceResponseError(
                f"{operation} on {self.options.where}: the admin shell has no flock",
                hint="ghes-setup's scripts need util-linux's flock in the admin shell",
            )
        if last.startswith("ERR lock"):
            return ApplianceResponseError(
                f"{operation} on {self.options.where}: another ghes-setup run holds the lock "
                "~/.ghes-setup/lock",
                hint="wait for it to finish and run the command again",
            )
        return ApplianceResponseError(
            f"{operation} on {self.options.where} failed (exit {rc}){': ' + last if last else ''}",
            hint="check that ghe-config, base64 and flock work in the admin shell",
        )

    # ------------------------------------------------------------------ writes
    def write_settings(self, changes: Mapping[str, SettingValue]) -> None:
        self.write_keys(
            {
                spec(name).ghe_config_key: encode_config(name, value)
                for name, value in changes.items()
            }
        )

    def write_keys(self, values: Mapping[str, str | None]) -> None:
        """Set (or unset, for None) raw ghe-config keys: one exec of the two-phase script,
        all or nothing. The primitive `write_settings` is built on."""
        self._prefetched = {}
        if not values:
            return
        payload = b""
        for key, text in values.items():
            _check_key(key)
            if text is None:
                payload += f"unset {key}\n".encode()
            else:
                data = text.encode()
                payload += f"set {key} {len(data)}\n".encode() + data + b"\n"
        payload += b"end\n"
        try:
            self._two_phase(payload)
        except Dropped as exc:
            self._after_drop(values, str(exc))

    def _two_phase(self, payload: bytes) -> None:
        import paramiko

        channel = self._open(remote_command(WRITE_SCRIPT))
        try:
            reader = channel.makefile("rb")
            channel.sendall(payload)
            line = _readline(reader)
            if line == "PREPARED":
                channel.sendall(b"commit\n")
                line = _readline(reader)
                if line == "COMMITTED":
                    channel.shutdown_write()
                    return
            rest = reader.read().decode("utf-8", errors="replace")
            rc = channel.recv_exit_status()
            if line is None and rc in (-1, 0):
                raise Dropped("the write script ended without an answer")
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise Dropped(error_line(exc)) from None
        finally:
            channel.close()
        if line is not None and line.startswith("FAIL "):
            _, key, *_ = line.split(" ")
            reason = scrub(rest.strip().splitlines()[0]) if rest.strip() else ""
            name = next((s.name for s in facts.SETTINGS if s.ghe_config_key == key), key)
            raise SettingsRejected(
                f"the appliance refused {name} (ghe-config {key})"
                + (f": {reason}" if reason else "")
                + "; nothing was changed (the other values were put back)",
                hint="fix the value in the site file and run the command again",
            )
        raise self._script_error("writing settings", rc, f"{line or ''}\n{rest}")

    def _after_drop(self, values: Mapping[str, str | None], reason: str) -> None:
        """The connection died mid-write. Reconnect once: the prelude of the read script
        waits for the dying write script's lock and restores any journal it left; then the
        values tell whether the change was committed (it is, or it is not, never half)."""
        self.close()
        try:
            _, current = self._read(identify=False, keys=list(values))
        except Unreachable:
            raise Unreachable(
                f"SSH connection to {self.options.where} dropped while writing settings "
                f"({reason}) and could not be re-established to verify",
                hint="if the write had not committed, the appliance puts the old values back "
                "by itself (journal ~/.ghes-setup/journal); `ghes-setup config show` tells which",
            ) from None
        if all(_same_text(current.get(key), text) for key, text in values.items()):
            return  # the commit made it before the drop
        raise Unreachable(
            f"SSH connection to {self.options.where} dropped while writing settings "
            f"({reason}); the appliance put the old values back, nothing was changed "
            "(verified over a new connection)",
            hint="check the network and run the command again",
        )

    # ------------------------------------------------------------------ config apply
    def start_apply(self, run_id: str) -> ApplyRun:
        self._prefetched = {}
        check_run_id(run_id)
        try:
            rc, out, _ = self._run(remote_command(APPLY_SCRIPT, [run_id]))
        except Dropped as exc:
            raise self._lost("starting ghe-config-apply", str(exc)) from None
        last = out.strip().splitlines()[-1] if out.strip() else ""
        if last.startswith("BUSY "):
            raise RefusedTarget(
                f"a configuration run ({last.split()[1]}) is still in progress on "
                f"{self.options.where}",
                hint="wait for it to finish (ghes-setup config show), then run again",
            )
        if rc != 0 or last != f"STARTED {run_id}":
            raise self._script_error("starting ghe-config-apply", rc, out)
        self.last_run_id = run_id
        return ApplyRun(run_id, self.name)

    def _status(self, run_id: str | None, offset: int | None) -> tuple[ApplyStatus, int, str]:
        """Status of a run, the size of its log, and the log from `offset` (None: no log)."""
        where = "-" if offset is None else str(offset)
        try:
            rc, out, _ = self._run(remote_command(STATUS_SCRIPT, [run_id or "", where]))
        except Dropped as exc:
            raise self._lost("reading the configuration run status", str(exc)) from None
        lines = out.splitlines()
        if rc != 0 or not lines:
            raise self._script_error("reading the configuration run status", rc, out)
        head = lines[0].split()
        if head[0] == "UNKNOWN":
            return ApplyStatus(run_id, running=False, successful=False, known=False), 0, ""
        rid = head[1]
        size, chunk = 0, ""
        for line in lines[1:]:
            if line.startswith("LOG "):
                parts = line.split(" ", 2)
                size = int(parts[1])
                chunk = _unb64(parts[2]) if len(parts) > 2 else ""
        if head[0] == "DONE":
            ok = head[2] == "0"
            return ApplyStatus(rid, running=False, successful=ok), size, chunk
        if head[0] == "RUNNING":
            return ApplyStatus(rid, running=True, successful=False), size, chunk
        status = ApplyStatus(
            rid,
            running=False,
            successful=False,
            detail="ghe-config-apply ended without an exit status (killed?)",
        )
        return status, size, chunk

    def apply_status(self, run_id: str | None = None) -> ApplyStatus:
        status, size, _ = self._status(run_id or self.last_run_id, None)
        if status.failed and status.detail is None:
            _, _, log = self._status(status.run_id, max(0, size - 4096))
            errors = [line for line in log.splitlines() if _ERROR_WORDS.search(line)]
            lines = log.strip().splitlines()
            # The first error line is the cause; without one, the last line says most.
            detail = scrub((errors[0] if errors else lines[-1]).strip()) if lines else None
            return ApplyStatus(status.run_id, False, False, detail=detail)
        return status

    def apply_events(self, since: str | None = None) -> EventBatch:
        run_id, offset = self.last_run_id, 0
        if since:
            rid, _, off = since.rpartition(":")
            run_id, offset = rid or run_id, int(off or 0)
        status, size, chunk = self._status(run_id, offset)
        if not status.known:
            return EventBatch((), since)
        # Only whole lines; a partial last line is read again next time.
        complete, sep, _ = chunk.rpartition("\n")
        consumed = len((complete + sep).encode())
        events = tuple(
            ApplyEvent(scrub(line), "ERROR" if _ERROR_WORDS.search(line) else "INFO")
            for line in complete.splitlines()
            if line.strip()
        )
        start = offset if offset <= size else 0
        return EventBatch(events, f"{status.run_id}:{start + consumed}")

    # ------------------------------------------------------------------ utilities
    def maintenance(self) -> bool | None:
        """`ghe-maintenance -q` (command-line-utilities.md); None when it says neither."""
        from ghes_setup.appliance.maintenance import parse_ghe_maintenance

        rc, out = self.run_utility(["ghe-maintenance", "-q"])
        return parse_ghe_maintenance(out) if rc == 0 else None

    def run_utility(self, argv: Sequence[str], stdin: bytes | None = None) -> tuple[int, str]:
        """Run an appliance utility (e.g. ghe-packages-precheck) with `argv`; return its exit
        code and standard output (stderr appended). Arguments travel base64 on standard input,
        so a connection string in them is never part of the exec request."""
        if not argv:
            raise ValueError("empty argv")
        head = [str(len(argv)), *(b64(a) for a in argv)]
        payload = ("\n".join(head) + "\n").encode() + (stdin or b"")
        try:
            rc, out, err = self._run(remote_command(UTILITY_SCRIPT), payload)
        except Dropped as exc:
            raise self._lost(f"running {argv[0]}", str(exc)) from None
        return rc, out + err


# ---------------------------------------------------------------------------- helpers


def _check_key(key: str) -> None:
    if not _KEY_PATTERN.match(key):
        raise ValueError(f"unsafe ghe-config key {key!r}")


def key_value(code: str, data: str) -> str | None:
    """A `ghe-config KEY` answer as a value; None when the key is unset.

    An unset key may exit 1 with no output, or exit 0 printing an empty value (which one a
    given release does is UNVERIFIED; no setting ghe-setup manages has "" as a meaningful
    value). Both are "unset" here, never a value to decode: an unset ecosystem key reads as
    None (GHES treats it as enabled) instead of failing as "neither true, false nor readonly"."""
    if code != "0" or data == "":
        return None
    return data


def parse_read_output(out: bytes) -> list[tuple[str, str]] | None:
    """Split READ_SCRIPT's output: "TAG ARGS LENGTH\\n" + LENGTH bytes + "\\n", ..., "END".
    None when the output is cut short (the script did not finish)."""
    records: list[tuple[str, str]] = []
    pos = 0
    while True:
        end = out.find(b"\n", pos)
        if end < 0:
            return None
        head = out[pos:end].decode("utf-8", errors="replace")
        if head == "END":
            return records
        tag, _, length = head.rpartition(" ")
        if not length.isdigit():
            return None
        start = end + 1
        stop = start + int(length)
        if out[stop : stop + 1] != b"\n":
            return None
        records.append((tag, out[start:stop].decode("utf-8", errors="replace")))
        pos = stop + 1


def _readline(reader: paramiko.BufferedFile[bytes]) -> str | None:
    raw = reader.readline()
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return text.rstrip("\r\n")


def _same_text(stored: str | None, written: str | None) -> bool:
    """A value read back is the one written: PEM compared in the appliance's form (`ghe-config`
    may keep a certificate without its final newline, or with CRLF), anything else exactly."""
    if stored is None or written is None:
        return stored == written
    if "-----BEGIN " in written:
        return normalise_pem(stored) == normalise_pem(written)
    return stored == written
