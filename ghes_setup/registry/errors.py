"""Registry failures that are results, not accidents: the smoke test turns each into a `fail`.

    ApplianceError (ghes_setup.errors)
    └── RegistryError               the registry answered, and the answer means "it does not work"
        ├── RegistryHTTPError       an unexpected status (with the OCI error codes of the body)
        │   └── OtherHostError      ... from a host the registry sent us to (storage, a CDN)
        ├── InsufficientScope       401 insufficient_scope after asking once for the wider scope
        ├── AccessDenied            403 / DENIED: the token is valid but may not do this
        ├── DigestMismatch          bytes whose sha256 (or size) is not what their digest says
        ├── UploadFailed            a blob upload did not complete within the retry budget
        └── UnsafeTarget            a URL or token realm the registry named that we refuse

Not here: "no connection" is `errors.Unreachable` and "credentials refused" is
`errors.AuthenticationFailed` (both exit 4). These classes fall through the exit-code table to
1 ("a check failed"), which is what they mean when one escapes a command.
"""

from __future__ import annotations

from ghes_setup.errors import ApplianceError


class RegistryError(ApplianceError):
    """The registry answered in a way that means the Container registry does not work."""


class RegistryHTTPError(RegistryError):
    """An unexpected HTTP status; `codes` are the OCI error codes of the body, if any."""

    def __init__(
        self,
        message: str,
        *,
        status: int,
        codes: tuple[str, ...] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.codes = codes


class InsufficientScope(RegistryError):
    """The token service did not grant the actions the request needs (`scope` names them)."""

    def __init__(self, message: str, *, scope: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.scope = scope


class AccessDenied(RegistryError):
    """403 or DENIED: authenticated, but not allowed (package permissions, org policy)."""


class DigestMismatch(RegistryError):
    """Content does not match its digest. `digest` names the blob or manifest."""

    def __init__(
        self,
        message: str,
        *,
        digest: str,
        actual: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.digest = digest
        self.actual = actual


class UploadFailed(RegistryError):
    """A blob upload could not be completed (retries and restarts exhausted, or refused)."""


class OtherHostError(RegistryHTTPError):
    """A host other than the registry's origin (blob storage or a CDN a download was redirected
    to, an upload Location on another host) answered with a failure. `host` names it: its
    401/403 is not the registry's challenge nor a package permission."""

    def __init__(
        self,
        message: str,
        *,
        host: str,
        status: int,
        codes: tuple[str, ...] = (),
        hint: str | None = None,
    ) -> None:
        super().__init__(message, status=status, codes=codes, hint=hint)
        self.host = host


class UnsafeTarget(RegistryError):
    """The registry named a URL we refuse: an upload Location or tags Link that downgrades to
    plain http, or a token realm (which would get the PAT) off https or off the appliance."""
