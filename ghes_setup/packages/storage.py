"""The appliance's own storage checks, run over the admin SSH shell.

- `ghe-packages-precheck -p {S3,MinIO,Azure} -cs CONN [-cn CONTAINER]` checks storage BEFORE
  Packages is enabled (command-line-utilities.md, GitHub Packages section). Its documented
  interface takes the connection string as an argument, so on the appliance it is briefly in
  the precheck's argument list. On our side it never is: `SshTransport.run_utility` sends the
  arguments base64-encoded on the exec's standard input to a fixed script that `exec`s the
  utility, so the string is in no command line of ours, no SSH exec request and no log.
- `ghe-check-blob-connection` checks the configured storage; success prints
  `facts.BLOB_CHECK_SUCCESS` ("All Storage tests passed").

Utilities run on a `UtilityRunner` (the SSH transport, or the fake appliance in tests). Output
is scrubbed of every known secret before it is kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from ghes_setup import facts
from ghes_setup.appliance.transport import ApplianceTransport
from ghes_setup.packages.errors import PackagesNeedSsh
from ghes_setup.secrets import Secret, scrub

PRECHECK: Final = "ghe-packages-precheck"
BLOB_CHECK: Final = "ghe-check-blob-connection"
# bash: 126 found but not executable, 127 not found.
_NOT_RUNNABLE: Final = frozenset({126, 127})
NEED_SSH_HINT: Final = (
    "give an SSH key for the admin shell (--identity FILE, [connection] ssh_identity, or "
    "ssh-agent): GitHub Packages is set with ghe-config over SSH, the Manage API has no "
    "Packages fields"
)


@runtime_checkable
class UtilityRunner(Protocol):
    def run_utility(self, argv: Sequence[str], stdin: bytes | None = None) -> tuple[int, str]:
        """Run an appliance utility; its exit code and output (stdout, then stderr)."""


def utility_runner(transport: ApplianceTransport) -> UtilityRunner | None:
    """The admin shell behind `transport` (itself, or the SSH half of a routed pair)."""
    from ghes_setup.appliance.selector import RoutedTransport

    candidate: object = transport.ssh if isinstance(transport, RoutedTransport) else transport
    return candidate if isinstance(candidate, UtilityRunner) else None


def require_runner(transport: ApplianceTransport, what: str) -> UtilityRunner:
    runner = utility_runner(transport)
    if runner is None:
        raise PackagesNeedSsh(f"{what} needs the appliance's admin SSH shell", hint=NEED_SSH_HINT)
    return runner


@dataclass(frozen=True, slots=True)
class StorageTest:
    """What one storage utility said. `lines` are scrubbed of secrets."""

    command: str
    returncode: int
    lines: tuple[str, ...]

    @property
    def runnable(self) -> bool:
        return self.returncode not in _NOT_RUNNABLE

    @property
    def passed(self) -> bool:
        if self.returncode != 0:
            return False
        # ghe-check-blob-connection must say so; the precheck's output is not documented.
        return self.command != BLOB_CHECK or any(
            facts.BLOB_CHECK_SUCCESS in ln for ln in self.lines
        )

    @property
    def reason(self) -> str:
        """The line that says most: the first error line, else the last line."""
        for line in self.lines:
            low = line.lower()
            if "error" in low or "denied" in low or "fail" in low or "not " in low:
                return line
        return self.lines[-1] if self.lines else f"{self.command} exited {self.returncode}"

    def document(self) -> dict[str, object]:
        return {
            "command": self.command,
            "returncode": self.returncode,
            "passed": self.passed,
            "output": list(self.lines),
        }


def run_storage_utility(runner: UtilityRunner, argv: Sequence[str | Secret]) -> StorageTest:
    """Run `argv` (a Secret argument is revealed only here, to travel over SSH stdin)."""
    plain = [a.reveal() if isinstance(a, Secret) else a for a in argv]
    rc, out = runner.run_utility(plain)
    lines = tuple(scrub(line.rstrip()) for line in out.splitlines() if line.strip())
    return StorageTest(str(argv[0]), rc, lines)


def check_blob_connection(runner: UtilityRunner) -> StorageTest:
    return run_storage_utility(runner, [BLOB_CHECK])
