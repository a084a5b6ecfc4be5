"""Presenters of the certificates `tls ca create`, `tls issue` and `tls csr` write: the lines
an admin reads (where each file went, which one to upload, what to run next) and the JSON
documents (schemas docs/schema/tls-ca-create-v1.json, tls-issue-v1.json, tls-csr-v1.json).
A file that holds a private key is marked `secret`; its content is never shown.

The human lines go straight to standard output (not the rich console): they are the command's
result, printed even with --quiet, and a CSR must reach the terminal byte for byte.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from ghes_setup.tls.issue import CaResult, CsrResult, IssueResult, WrittenFile


def _files(files: tuple[WrittenFile, ...]) -> list[dict[str, Any]]:
    return [{"path": str(f.path), "kind": f.kind, "secret": f.secret} for f in files]


def _lines(out: TextIO, *lines: str) -> None:
    out.write("".join(f"{line}\n" for line in lines))


def _csr_text(result: CsrResult) -> str:
    return result.csr.read_text(encoding="ascii")


# ------------------------------------------------------------------ tls ca create


def ca_document(result: CaResult) -> dict[str, Any]:
    return {
        "subject": result.subject,
        "not_after": result.not_after.isoformat(),
        "files": _files(result.files),
    }


def ca_human(out: TextIO, result: CaResult) -> None:
    _lines(
        out,
        f"Created CA {result.subject} (valid until {result.not_after:%Y-%m-%d}).",
        f"  {result.cert}  CA certificate: clients and --ca-file use it",
        f"  {result.key}  CA private key (mode 0600): keep it private, ideally offline",
        f"Next: ghes-setup tls issue HOSTNAME --ca {result.cert.parent} --out DIR",
    )


# ------------------------------------------------------------------ tls issue


def issue_document(result: IssueResult) -> dict[str, Any]:
    return {
        "hostname": result.hostname,
        "names": list(result.names),
        "issuer": result.issuer,
        "not_after": result.not_after.isoformat(),
        "files": _files(result.files),
    }


def issue_human(out: TextIO, result: IssueResult) -> None:
    _lines(
        out,
        f"Issued a certificate for {', '.join(result.names)} by {result.issuer} "
        f"(valid until {result.not_after:%Y-%m-%d}).",
        f"  {result.key}  private key (mode 0600): upload as the key",
        f"  {result.cert}  server certificate",
        f"  {result.chain}  bundle, leaf first: upload as the certificate",
        "Check it: ghes-setup tls check "
        f"--cert {result.chain} --key {result.key} --hostname {result.hostname} "
        f"--ca-file {result.ca_file}",
    )


# ------------------------------------------------------------------ tls csr


def csr_document(result: CsrResult) -> dict[str, Any]:
    return {
        "hostname": result.hostname,
        "names": list(result.names),
        "csr": _csr_text(result),
        "files": _files(result.files),
    }


def csr_human(out: TextIO, result: CsrResult) -> None:
    _lines(
        out,
        f"  {result.key}  private key (mode 0600): keep it; GHES needs it with the certificate",
        f"  {result.csr}  certificate signing request",
        "",
        f"Send {result.csr} to your CA. Ask for a server certificate (serverAuth, "
        f"SHA-256) with the subject alternative names {' and '.join(result.names)}, "
        "and for the full chain (your certificate first, then the intermediates).",
        "",
        _csr_text(result).rstrip("\n"),
        "",
        "When it arrives: ghes-setup tls check --cert BUNDLE.pem "
        f"--key {result.key} --hostname {result.hostname}",
    )
