"""registry area: the Container registry at containers.HOSTNAME.

- `client`: a small OCI distribution client (token auth, streaming push/pull, retries);
  `auth` (challenges, scopes, token cache), `oci` (media types, manifests, blob sources),
  `retry` (bounded backoff), `errors` (registry failures as data for the checks).
- `image`: the generated test image; `rest`: the GHES REST calls (token scopes, packages).
- `smoke` + `check_smoke`: the `registry-smoke` check (`ghes-setup registry smoke`).

Importing this package imports nothing else: the CLI loads modules lazily.
"""
