"""The TLS area: the certificate GHES needs, made, validated and probed.

- `material`: load a PEM bundle (leaf first) and a key, with a precise reason when unusable.
- `names`: RFC 6125 host-name matching (SANs only, one-label wildcards, IDNA).
- `trust`: the system store plus `--ca-file`; chain verification (`cryptography`).
- `issue`: a private CA, a certificate from it, a CSR; files written atomically, keys 0600.
- `check_*`: one module per check id (tls-pem ... tls-signature, tls-served).
- `probe`: the only pyOpenSSL user: fetch the chain a server presents for an SNI name.
- `service`: `run_tls_check`, `run_tls_probe`, `served_fingerprints` (what callers use).
"""
