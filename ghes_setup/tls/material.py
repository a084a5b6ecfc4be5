"""Load a certificate bundle and a private key the way the appliance takes them, with precise
reasons when they cannot be used.

GHES takes two uploads (configuring-tls.md, troubleshooting-tls-errors.md): a PEM bundle with
the server certificate FIRST, then the intermediates (`cat domain.crt bundle.crt`), and an
unencrypted PEM RSA key. Each way an admin typically gets this wrong has its own `Problem`
kind, message and remedy: missing file, empty file, DER instead of PEM, garbage, a corrupt
PEM block, an encrypted key (PKCS#8 `ENCRYPTED PRIVATE KEY` or legacy
`Proc-Type: 4,ENCRYPTED`), a certificate given as the key, a key given as the certificate,
a CSR given as the certificate.

`load_bundle` / `load_key` never raise for bad content: they return a `LoadFailure` that the
`tls-pem` check reports. A file that does not exist or cannot be read is different (it is
a wrong argument, not bad material): `LoadFailure.unreadable` is True and the service turns it
into `MaterialError` (exit 3). `read_certificates` / `read_private_key` are the raising
variants for inputs that must be good (a `--ca-file`, the CA of `tls issue`).

Uses `cryptography` only; no pyOpenSSL here.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import pairwise
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ghes_setup.errors import MaterialError

# A BEGIN or END line as OpenSSL's PEM reader (so nginx, so the appliance) takes it: the marker
# at the very start of a line and nothing after it but trailing whitespace, which it drops
# (every byte up to a space, CR included); a UTF-8 byte order mark may open the file. An
# indented marker, or text before it, makes OpenSSL skip the line and with it the block (the
# next certificate becomes the leaf); text after an END line is "bad end line". `_BLOCK` and
# `_BEGIN` run on `_normalized` text, once `_layout_problem` found every marker on its own line.
_MARKER = re.compile(rb"-----(BEGIN|END) ([A-Z0-9 ]+)-----")
_BLOCK = re.compile(
    rb"^-----BEGIN ([A-Z0-9 ]+)-----$(.*?)^-----END \1-----$",
    re.DOTALL | re.MULTILINE,
)
_BEGIN = re.compile(rb"^-----BEGIN [A-Z0-9 ]+-----$", re.MULTILINE)
# What OpenSSL strips from a line's end: every byte <= ' ' as a signed char, so the bytes of
# 0x80 and above too (a no-break space pasted from rich text).
_LINE_END_SPACE = bytes(range(0x21)) + bytes(range(0x80, 0x100))
_UTF8_BOM = b"\xef\xbb\xbf"
_KEY_LABELS = frozenset({b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY", b"DSA PRIVATE KEY"})
_ENCRYPTED_LABEL = b"ENCRYPTED PRIVATE KEY"
_CERT_LABEL = b"CERTIFICATE"
_CSR_LABELS = frozenset({b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"})
# The largest input we read: a bundle is a few KiB; this keeps a wrong path (a disk image,
# /dev/zero) from being read into memory.
MAX_BYTES = 1 << 20


class ProblemKind(Enum):
    MISSING = "missing"
    UNREADABLE = "unreadable"
    EMPTY = "empty"
    DER = "der"
    GARBAGE = "garbage"
    CORRUPT = "corrupt"
    ENCRYPTED = "encrypted"
    CERT_AS_KEY = "certificate-as-key"
    KEY_AS_CERT = "key-as-certificate"
    CSR_AS_CERT = "csr-as-certificate"
    MULTIPLE_KEYS = "multiple-keys"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True, slots=True)
class LoadFailure:
    """Why a certificate or key file cannot be used, in words an admin can act on."""

    path: Path
    role: str  # "certificate" | "key"
    kind: ProblemKind
    message: str
    remedy: str

    @property
    def unreadable(self) -> bool:
        """The file is missing or cannot be read: a wrong argument rather than bad material."""
        return self.kind in (ProblemKind.MISSING, ProblemKind.UNREADABLE)

    def as_error(self) -> MaterialError:
        return MaterialError(self.message, hint=self.remedy)


@dataclass(frozen=True, slots=True)
class CertBundle:
    """The certificates of a bundle file, in file order (the appliance's order)."""

    path: Path
    certs: tuple[x509.Certificate, ...]
    # The file also holds a private key block: works for some servers, but this file then
    # must be treated as secret; GHES takes the key as a separate upload.
    contains_private_key: bool = False


@dataclass(frozen=True, slots=True)
class KeyFile:
    path: Path
    key: PrivateKeyTypes
    pkcs: str  # "PKCS#8" or "PKCS#1/SEC1 (traditional)"


def _read(path: Path, role: str) -> bytes | LoadFailure:
    try:
        with path.open("rb") as fh:
            return fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return LoadFailure(
            path,
            role,
            ProblemKind.MISSING,
            f"{role} file {path} does not exist",
            f"check the path of the {role} file",
        )
    except IsADirectoryError:
        return LoadFailure(
            path,
            role,
            ProblemKind.UNREADABLE,
            f"{role} file {path} is a directory",
            f"give the {role} file itself, not its folder",
        )
    except OSError as exc:
        return LoadFailure(
            path,
            role,
            ProblemKind.UNREADABLE,
            f"cannot read {role} file {path}: {exc.strerror}",
            "check the file's permissions",
        )


def _read_pem(path: Path, role: str) -> bytes | LoadFailure:
    """The file's bytes, or why they cannot be PEM (`_read`, then `_empty_or_binary`)."""
    data = _read(path, role)
    if isinstance(data, LoadFailure):
        return data
    return _empty_or_binary(data, path, role) or data


def _empty_or_binary(data: bytes, path: Path, role: str) -> LoadFailure | None:
    """Empty, too large, DER or plain garbage: everything before PEM parsing."""
    if len(data) > MAX_BYTES:
        return LoadFailure(
            path,
            role,
            ProblemKind.GARBAGE,
            f"{role} file {path} is larger than {MAX_BYTES // 1024} KiB: not a PEM {role}",
            f"give the PEM {role} file",
        )
    if not data.strip():
        return LoadFailure(
            path,
            role,
            ProblemKind.EMPTY,
            f"{role} file {path} is empty",
            f"write the PEM {role} into it (the file may have been truncated by a failed copy)",
        )
    if b"-----BEGIN " in data:
        return None
    if data[:1] == b"\x30":  # an ASN.1 SEQUENCE: DER (or PKCS#12, also DER)
        return _der_failure(data, path, role)
    return LoadFailure(
        path,
        role,
        ProblemKind.GARBAGE,
        f"{role} file {path} is not PEM: no '-----BEGIN ...-----' block found",
        _pem_hint(role),
    )


def _pem_hint(role: str) -> str:
    if role == "key":
        return "give the private key in PEM format ('-----BEGIN PRIVATE KEY-----')"
    return (
        "give the certificate bundle in PEM format ('-----BEGIN CERTIFICATE-----'), "
        "leaf first, then intermediates"
    )


def _der_failure(data: bytes, path: Path, role: str) -> LoadFailure:
    is_cert = is_key = False
    try:
        x509.load_der_x509_certificate(data)
        is_cert = True
    except ValueError:
        pass
    if not is_cert:
        try:
            serialization.load_der_private_key(data, password=None)
            is_key = True
        except (ValueError, TypeError, UnsupportedAlgorithm):
            pass
    if is_cert:
        what = "a DER (binary) certificate"
        fix = f"convert it: openssl x509 -inform der -in {path} -out {_sibling(path, '.pem')}"
    elif is_key:
        what = "a DER (binary) private key"
        fix = f"convert it: openssl pkey -inform der -in {path} -out {_sibling(path, '.key')}"
    else:
        what = "binary (DER or PKCS#12) data, not PEM"
        fix = (
            "GHES takes PEM: convert a .pfx/.p12 with "
            f"openssl pkcs12 -in {path} -nodes, or a DER file with openssl x509 -inform der"
        )
    if is_cert and role == "key":
        return LoadFailure(
            path,
            role,
            ProblemKind.CERT_AS_KEY,
            f"key file {path} holds a DER certificate, not a private key",
            "give the private key file (PEM) as the key",
        )
    if is_key and role == "certificate":
        return LoadFailure(
            path,
            role,
            ProblemKind.KEY_AS_CERT,
            f"certificate file {path} holds a DER private key, not a certificate",
            "give the certificate bundle as --cert and the key as --key",
        )
    return LoadFailure(path, role, ProblemKind.DER, f"{role} file {path} is {what}", fix)


def _sibling(path: Path, suffix: str) -> str:
    """A file name next to `path` for a converted copy, never `path` itself."""
    name = path.stem + suffix
    return path.stem + "-pem" + suffix if name == path.name else name


def _parse_error(exc: Exception) -> str:
    """cryptography's message without its FAQ link."""
    text = str(exc)
    if "for more details." in text:
        text = text.split("for more details.", 1)[1].strip() or "invalid data"
    return text


def _normalized(data: bytes) -> bytes:
    """The text as OpenSSL's PEM reader sees it: no byte order mark before the first line,
    no trailing whitespace (CR included) on any line."""
    data = data.removeprefix(_UTF8_BOM)
    return b"\n".join(line.rstrip(_LINE_END_SPACE) for line in data.split(b"\n"))


def _layout_problem(text: bytes, path: Path, role: str) -> LoadFailure | None:
    """A BEGIN or END line OpenSSL does not read as one, an empty line inside a block, or a
    block that ends under another name or never ends before the next begins, in `_normalized`
    text. These pass `cryptography`'s PEM parser, or fail it with a message about something
    else, while nginx refuses the file or takes the wrong certificate from it."""
    blocks = 0  # BEGIN lines so far
    label: bytes | None = None  # the block we are in
    headers_only = True  # every line of this block so far is an RFC 1421 header ("Name: value")
    blank_seen = False

    def failure(number: int, message: str, remedy: str) -> LoadFailure:
        return LoadFailure(
            path, role, ProblemKind.CORRUPT, f"{role} file {path}, line {number}: {message}", remedy
        )

    for number, line in enumerate(text.split(b"\n"), start=1):
        marker = _MARKER.search(line)
        if marker is None:
            if label is None:
                continue
            name = label.decode("ascii")
            if line:
                headers_only = headers_only and b":" in line
            elif blank_seen or not headers_only:
                # OpenSSL takes the lines before the first empty one as headers, and a
                # second empty line as the end of the block: "not proc type", "bad end line".
                return failure(
                    number,
                    f"an empty line inside PEM block {blocks} ({name})",
                    "remove the empty lines between the '-----BEGIN' and '-----END' lines: "
                    "OpenSSL, and so the appliance, does not read a block with gaps in it",
                )
            else:
                blank_seen = True
            continue
        kind = marker.group(1).decode("ascii")
        name = marker.group(2).decode("ascii")
        which = f"the {kind} line of PEM block {blocks + 1 if kind == 'BEGIN' else blocks} ({name})"
        before, after = line[: marker.start()], line[marker.end() :]
        if before and not before.strip():
            return failure(
                number,
                f"{which} is indented",
                "remove the indentation (pasted from YAML or Markdown?): OpenSSL, and so the "
                "appliance, reads a '-----BEGIN'/'-----END' line only at the very start of a "
                "line, and skips or refuses the block otherwise",
            )
        if before:
            return failure(
                number,
                f"{which} has text before it on the same line",
                "put each '-----BEGIN'/'-----END' line on its own line: OpenSSL, and so the "
                "appliance, skips a BEGIN line that does not start its line, and the block "
                "with it",
            )
        if after.lstrip().startswith(b"-----BEGIN"):
            return failure(
                number,
                f"{which} is followed by the next BEGIN line on the same line",
                "put each '-----BEGIN'/'-----END' line on its own line: a line break is "
                "missing where two files were joined (cat a.crt b.crt when a.crt does not "
                "end with a newline); OpenSSL, and so the appliance, refuses it "
                "('bad end line')",
            )
        if after:
            return failure(
                number,
                f"{which} is followed by text on the same line",
                "put each '-----BEGIN'/'-----END' line on its own line, with nothing after "
                "it: OpenSSL, and so the appliance, does not read it otherwise",
            )
        if kind == "BEGIN":
            if label is not None:
                return failure(
                    number,
                    f"PEM block {blocks} ({label.decode('ascii')}) is truncated: block "
                    f"{blocks + 1} begins before its END line",
                    "the block was cut off (in a copy/paste or a transfer?): copy it again, "
                    "from '-----BEGIN' to '-----END' inclusive",
                )
            blocks += 1
            label, headers_only, blank_seen = marker.group(2), True, False
        elif label is not None and marker.group(2) != label:
            return failure(
                number,
                f"PEM block {blocks} begins as {label.decode('ascii')} but ends as {name}",
                "copy the whole block again, from '-----BEGIN' to '-----END' inclusive "
                "(OpenSSL, and so the appliance, refuses it)",
            )
        else:  # an END line outside a block is text between blocks to OpenSSL: skipped
            label = None
    return None


def _read_laid_out(path: Path, role: str) -> bytes | LoadFailure:
    """The PEM text of `path` as OpenSSL reads it (`_normalized`), once its BEGIN/END lines
    are laid out as OpenSSL needs (`_layout_problem`)."""
    raw = _read_pem(path, role)
    if isinstance(raw, LoadFailure):
        return raw
    data = _normalized(raw)
    return _layout_problem(data, path, role) or data


def load_bundle(path: Path) -> CertBundle | LoadFailure:
    """Read a PEM bundle: every CERTIFICATE block in file order. Never raises for content."""
    data = _read_laid_out(path, "certificate")
    if isinstance(data, LoadFailure):
        return data
    matched = list(_BLOCK.finditer(data))
    blocks = [(m.group(1), m.group(0)) for m in matched]
    labels = [label for label, _ in blocks]
    after = matched[-1].end() if matched else 0
    if matched and _BEGIN.search(data, after):
        # A block that starts and never ends: dropping it would make a cut-off intermediate
        # look missing (nginx refuses such a file: "bad end line").
        return LoadFailure(
            path,
            "certificate",
            ProblemKind.CORRUPT,
            f"certificate file {path}: PEM block {len(matched) + 1} is truncated (no END line)",
            "the file was cut off (in a copy/paste or a transfer?): get the certificates "
            "again from your CA",
        )
    certs: list[x509.Certificate] = []
    for index, (label, block) in enumerate(blocks, start=1):
        if label != _CERT_LABEL:
            continue
        with warnings.catch_warnings():
            # e.g. "serial number wasn't positive": tolerated by clients today; not
            # this tool's call, and a warning on stderr would only confuse the report.
            warnings.simplefilter("ignore")
            cert = _load_certificate(block, path, index)
        if isinstance(cert, LoadFailure):
            return cert
        certs.append(cert)
    has_key = any(label in _KEY_LABELS or label == _ENCRYPTED_LABEL for label in labels)
    if certs:
        return CertBundle(path, tuple(certs), contains_private_key=has_key)
    if has_key:
        return LoadFailure(
            path,
            "certificate",
            ProblemKind.KEY_AS_CERT,
            f"certificate file {path} holds a private key, not a certificate",
            "give the certificate bundle (leaf, then intermediates) as the certificate "
            "and the private key as the key",
        )
    if any(label in _CSR_LABELS for label in labels):
        return LoadFailure(
            path,
            "certificate",
            ProblemKind.CSR_AS_CERT,
            f"certificate file {path} holds a certificate signing request (CSR), not a certificate",
            "send the CSR to your CA and give the certificate it returns",
        )
    if blocks:
        found = ", ".join(sorted({label.decode("ascii", "replace") for label in labels}))
        return LoadFailure(
            path,
            "certificate",
            ProblemKind.UNSUPPORTED,
            f"certificate file {path} has no CERTIFICATE block (found: {found})",
            _pem_hint("certificate"),
        )
    return LoadFailure(
        path,
        "certificate",
        ProblemKind.CORRUPT,
        f"certificate file {path}: a PEM block has no matching '-----END ...-----' line "
        "(truncated?)",
        "copy the whole certificate again, from '-----BEGIN' to '-----END' inclusive",
    )


def _load_certificate(block: bytes, path: Path, index: int) -> x509.Certificate | LoadFailure:
    """One CERTIFICATE block, extensions included: `cryptography` parses those only when first
    read, so a malformed one (a truncated subjectAltName) would pass here and then break every
    check that reads it."""
    try:
        cert = x509.load_pem_x509_certificate(block)
    except ValueError as exc:
        return LoadFailure(
            path,
            "certificate",
            ProblemKind.CORRUPT,
            f"certificate file {path}: PEM block {index} does not parse ({_parse_error(exc)})",
            "the block is damaged (line breaks or characters lost in a copy/paste?): "
            "get the certificate again from your CA",
        )
    problem = extensions_problem(cert) or names_problem(cert)
    if problem is not None:
        return LoadFailure(
            path,
            "certificate",
            ProblemKind.CORRUPT,
            f"certificate file {path}: PEM block {index} has {problem}, which ghes-setup "
            "cannot read, so it cannot judge the certificate",
            "have the CA issue it again (or fix the tool or template that made it); "
            "a malformed name or subjectAltName also makes TLS clients refuse it",
        )
    return cert


def names_problem(cert: x509.Certificate) -> str | None:
    """'a malformed subject name' when the subject or issuer does not decode (invalid UTF-8
    in a UTF8String: OpenSSL refuses to load such a certificate), else None."""
    for which in ("subject", "issuer"):
        try:
            getattr(cert, which).rfc4514_string()
        except ValueError:
            return f"a malformed {which} name"
    return None


def extensions_problem(cert: x509.Certificate) -> str | None:
    """'a malformed subject_alternative_name extension (...)' when `cert`'s extensions do not
    parse, else None. `cryptography` parses them only when first read; call this before
    anything reads them (a certificate a server presents, too)."""
    try:
        _ = cert.extensions  # parses every extension
    except x509.DuplicateExtension as exc:
        return f"the same extension twice ({exc.oid.dotted_string})"
    except (ValueError, x509.UnsupportedGeneralNameType) as exc:
        where = re.findall(r'"([a-z_]+)"', str(exc))
        if where:
            return f"a malformed {where[-1]} extension (its DER does not parse)"
        return "a malformed extension (its DER does not parse)"
    return None


def load_key(path: Path) -> KeyFile | LoadFailure:
    """Read one unencrypted PEM private key. Never raises for content."""
    data = _read_laid_out(path, "key")
    if isinstance(data, LoadFailure):
        return data
    blocks = [(m.group(1), m.group(2), m.group(0)) for m in _BLOCK.finditer(data)]
    keys = [(label, body, block) for label, body, block in blocks if label in _KEY_LABELS]
    encrypted = [label for label, _, _ in blocks if label == _ENCRYPTED_LABEL] + [
        label for label, body, _ in keys if b"Proc-Type: 4,ENCRYPTED" in body
    ]
    if encrypted:
        return LoadFailure(
            path,
            "key",
            ProblemKind.ENCRYPTED,
            f"key file {path} is encrypted with a passphrase; GHES needs it without one",
            f"remove the passphrase: openssl rsa -in {path} -out {path.stem}-nopass.key "
            "(keep the result private: chmod 600)",
        )
    if not keys:
        labels = {label for label, _, _ in blocks}
        if _CERT_LABEL in labels:
            return LoadFailure(
                path,
                "key",
                ProblemKind.CERT_AS_KEY,
                f"key file {path} holds a certificate, not a private key",
                "give the private key that belongs to the certificate as the key "
                "(the file that starts with '-----BEGIN PRIVATE KEY-----')",
            )
        found = ", ".join(sorted(label.decode("ascii", "replace") for label in labels))
        return LoadFailure(
            path,
            "key",
            ProblemKind.UNSUPPORTED if labels else ProblemKind.GARBAGE,
            f"key file {path} has no PRIVATE KEY block" + (f" (found: {found})" if found else ""),
            _pem_hint("key"),
        )
    if len(keys) > 1:
        return LoadFailure(
            path,
            "key",
            ProblemKind.MULTIPLE_KEYS,
            f"key file {path} holds {len(keys)} private keys",
            "keep only the key that belongs to the certificate",
        )
    label, _, block = keys[0]
    try:
        key = serialization.load_pem_private_key(block, password=None)
    except TypeError:  # encrypted after all (a form the text check did not recognise)
        return LoadFailure(
            path,
            "key",
            ProblemKind.ENCRYPTED,
            f"key file {path} is encrypted with a passphrase; GHES needs it without one",
            f"remove the passphrase: openssl rsa -in {path} -out {path.stem}-nopass.key",
        )
    except UnsupportedAlgorithm as exc:
        return LoadFailure(
            path,
            "key",
            ProblemKind.UNSUPPORTED,
            f"key file {path}: unsupported key type ({exc})",
            "GHES needs an RSA key",
        )
    except ValueError as exc:
        return LoadFailure(
            path,
            "key",
            ProblemKind.CORRUPT,
            f"key file {path}: the private key does not parse ({_parse_error(exc)})",
            "the block is damaged (copy/paste?): use the original key file",
        )
    pkcs = "PKCS#8" if label == b"PRIVATE KEY" else "PKCS#1/SEC1 (traditional)"
    return KeyFile(path, key, pkcs)


def read_certificates(
    path: Path, *, what: str = "certificate file"
) -> tuple[x509.Certificate, ...]:
    """The certificates of a PEM file that must be good (e.g. `--ca-file`); raises MaterialError."""
    loaded = load_bundle(path)
    if isinstance(loaded, LoadFailure):
        raise MaterialError(f"{what}: {loaded.message}", hint=loaded.remedy)
    return loaded.certs


def read_private_key(path: Path, *, what: str = "key file") -> PrivateKeyTypes:
    """A private key that must be good (e.g. the CA key of `tls issue`); raises MaterialError."""
    loaded = load_key(path)
    if isinstance(loaded, LoadFailure) and loaded.kind is ProblemKind.ENCRYPTED:
        raise MaterialError(
            f"{what} is encrypted with a passphrase, and ghes-setup never asks for one",
            hint=f"sign with a decrypted copy kept offline (openssl pkey -in {path} -out "
            "DIR/ca.key), or with your own CA tooling",
        )
    if isinstance(loaded, LoadFailure):
        raise MaterialError(f"{what}: {loaded.message}", hint=loaded.remedy)
    return loaded.key


def describe(cert: x509.Certificate) -> str:
    """A short name for a certificate in messages: `CN=...` if it has one, else its subject."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns:
        return f"CN={cns[0].value!s}"
    return cert.subject.rfc4514_string() or "(empty subject)"


def is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def is_self_issued(cert: x509.Certificate) -> bool:
    return cert.subject == cert.issuer


def key_id_problem(chain: Sequence[x509.Certificate]) -> str | None:
    """Why OpenSSL-based clients (git, curl) cannot link a verified path, or None: a
    certificate whose authority key identifier is not its issuer's subject key identifier.
    OpenSSL then takes that issuer for another CA ("unable to get local issuer certificate");
    `cryptography`'s verifier, Go and browsers link by name and signature and accept it."""
    for cert, issuer in pairwise(chain):
        try:
            aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
            ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        except x509.ExtensionNotFound:
            continue
        if aki.key_identifier is not None and aki.key_identifier != ski.digest:
            return (
                f"the authority key identifier of {describe(cert)} is not the subject key "
                f"identifier of its issuer {describe(issuer)}"
            )
    return None


def purpose_problem(cert: x509.Certificate) -> str | None:
    """Why TLS clients refuse `cert` as a server's certificate by its extended key usage or its
    key usage, or None.

    Extended key usage: no extension allows any purpose; one without serverAuth refuses this
    one, as OpenSSL (`-purpose sslserver`), Go (docker, the GitHub CLI) and cryptography's
    verifier read it (RFC 5280 §4.2.1.12). Key usage (RFC 5280 §4.2.1.3), when present:
    OpenSSL's sslserver purpose (curl, git with OpenSSL: "unsuitable certificate purpose")
    wants digitalSignature, keyEncipherment or keyAgreement; GnuTLS (git on Debian and Ubuntu:
    "Key usage violation") wants digitalSignature, which TLS 1.3 and every ECDHE key exchange
    sign with (keyEncipherment serves only RSA key exchange, gone from TLS 1.3 and from what
    clients offer first). keyCertSign on a certificate that is not a CA is left alone: only
    OpenSSL's strict mode (`-x509_strict`) refuses it, curl and git accept it."""
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        pass
    else:
        if ExtendedKeyUsageOID.SERVER_AUTH not in eku:
            listed = ", ".join(getattr(oid, "_name", None) or oid.dotted_string for oid in eku)
            return (
                f"its extended key usage ({listed or 'empty'}) lacks serverAuth: docker, git "
                "and curl refuse it"
            )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    listed = ", ".join(key_usage_names(usage)) or "empty"
    if not (usage.digital_signature or usage.key_encipherment or usage.key_agreement):
        return (
            f"its key usage ({listed}) has neither digitalSignature nor keyEncipherment "
            "(OpenSSL: 'unsuitable certificate purpose'; GnuTLS: 'Key usage violation')"
        )
    if not usage.digital_signature:
        return (
            f"its key usage ({listed}) lacks digitalSignature, which TLS 1.3 and ECDHE key "
            "exchange need (git with GnuTLS: 'Key usage violation')"
        )
    return None


def key_usage_names(usage: x509.KeyUsage) -> list[str]:
    """The bits a key usage extension sets, by their RFC 5280 names."""
    names = [
        name
        for name, on in (
            ("digitalSignature", usage.digital_signature),
            ("nonRepudiation", usage.content_commitment),
            ("keyEncipherment", usage.key_encipherment),
            ("dataEncipherment", usage.data_encipherment),
            ("keyAgreement", usage.key_agreement),
            ("keyCertSign", usage.key_cert_sign),
            ("cRLSign", usage.crl_sign),
        )
        if on
    ]
    if usage.key_agreement:  # the two are only defined (readable) with keyAgreement
        names += [
            name
            for name, on in (
                ("encipherOnly", usage.encipher_only),
                ("decipherOnly", usage.decipher_only),
            )
            if on
        ]
    return names


def issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """True when `issuer`'s name and key signed `cert`. A signature algorithm cryptography no
    longer verifies (SHA-1, MD5) falls back to the name match alone; `tls-signature` reports
    the weak algorithm itself."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except InvalidSignature:
        return False
    except UnsupportedAlgorithm:
        return True
    except (ValueError, TypeError) as exc:
        # ValueError is also "issuer name mismatch" (excluded above) and TypeError a key type
        # that cannot sign; "Unsupported signature algorithm" means "cannot check it here".
        return "unsupported signature algorithm" in str(exc).lower()
    return True


def leaf_of(certs: tuple[x509.Certificate, ...]) -> x509.Certificate:
    """The end-entity certificate of a bundle, wherever it is (file order may be wrong).

    The one certificate that is not a CA and issued none of the others; if that is not
    exactly one certificate, the first one (what the appliance takes).
    """
    candidates = [
        c for c in certs if not is_ca(c) and not any(o is not c and issued_by(o, c) for o in certs)
    ]
    return candidates[0] if len(candidates) == 1 else certs[0]
