"""The one exception tree of ghes-setup.

Library exceptions (paramiko, httpx, dnspython, cryptography, OSError) are translated into
these at the module that talks to the library, with the host, port or file involved and a hint
the user can act on. Nothing above that module sees a third-party exception.

    GhesSetupError                 (base; never raised itself)
    ├── InputError                 exit 3: site file, environment, or an input file is invalid
    │   ├── SiteFileError          the site file cannot be read or a key is wrong
    │   ├── SecretMissing          a secret was needed and no source provided it
    │   ├── SecretInvalid          a secret is not one line of printable ASCII (names the source)
    │   └── MaterialError          a certificate, key or snapshot file is unusable
    ├── ApplianceError
    │   ├── Unreachable            exit 4: no TCP/TLS/SSH connection
    │   ├── AuthenticationFailed   exit 4: wrong password, key or token
    │   ├── HostKeyNotTrusted      exit 4: unknown or changed SSH host key
    │   ├── UnsupportedVersion     exit 5: the appliance's version cannot do what was asked
    │   ├── RefusedTarget          exit 5: e.g. asked to configure a replica
    │   ├── ApplianceResponseError exit 7: the appliance answered something we cannot read
    │   └── ApplyFailed            exit 6: configuration apply failed (says if a rollback ran)
    ├── OutputError                exit 74: output could not be written (standard output closed,
    │                              disk full, a report/snapshot/textfile that cannot be written)
    └── Interrupted                exit 130

Messages are one line. `hint` says what to do next. Neither ever contains a secret: every
message goes through `ghes_setup.secrets.scrub` before it is shown.
"""

from __future__ import annotations


class GhesSetupError(Exception):
    """Base of every error ghes-setup raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class InputError(GhesSetupError):
    """The user's input (site file, environment, an input file) is invalid."""


class SiteFileError(InputError):
    """The site file cannot be read, or one of its keys is missing or invalid."""


class SecretMissing(InputError):
    """A secret was needed and none of its sources (environment, file, stdin) had it."""


class SecretInvalid(InputError):
    """A secret has a line break, tab, control or non-ASCII character, or surrounding spaces.

    The message names where it came from (`GHES_SETUP_TOKEN`, `--token-file PATH`, standard
    input), never the value: such a value would otherwise reach an HTTP header or a command
    and come back in an error text in a form the scrubber might not recognise.
    """


class MaterialError(InputError):
    """A certificate, key, CSR, snapshot or other input file cannot be used."""


class ApplianceError(GhesSetupError):
    """Something went wrong talking to the appliance (or to one of its services)."""


class Unreachable(ApplianceError):
    """No connection could be made (DNS, TCP, TLS handshake, SSH banner)."""


class AuthenticationFailed(ApplianceError):
    """The appliance refused the credentials (SSH key, admin password, PAT)."""


class HostKeyNotTrusted(ApplianceError):
    """The SSH host key is unknown or has changed; never accepted silently."""


class UnsupportedVersion(ApplianceError):
    """The appliance's GHES version cannot do what was asked."""


class RefusedTarget(ApplianceError):
    """The target must not be changed this way (e.g. a replica)."""


class ApplianceResponseError(ApplianceError):
    """The appliance answered, but not in a way we can interpret."""


class ApplyFailed(ApplianceError):
    """A configuration apply failed. `rolled_back` says whether the old settings were restored."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        step: str | None = None,
        snapshot: str | None = None,
        rolled_back: bool = False,
    ) -> None:
        super().__init__(message, hint=hint)
        self.step = step
        self.snapshot = snapshot
        self.rolled_back = rolled_back


class OutputError(GhesSetupError):
    """What the tool had to write could not be written: standard output was closed (a pipe
    into `head`), the disk is full, or a report, snapshot or textfile cannot be replaced.

    Not an input error: the site file was fine, the run may even have succeeded; only its
    record is missing. Exit 74 (EX_IOERR of sysexits.h).
    """


class Interrupted(GhesSetupError):
    """The user interrupted the run (Ctrl-C)."""
