"""Capture: a read-only, redacted record of an appliance, and the facts it settles.

- `redact`: every secret value becomes a marker naming its kind, never the value, its length
  nor a hash.
- `parsers`: the `ghe-config -l` listing (line format, multi-line values).
- `service`: `capture()` runs the probes over SSH and/or the Manage API, the front door and
  DNS; a failed probe is recorded and the rest goes on. It writes nothing to the appliance.
- `verify`: `facts list` and `facts verify` over `ghes_setup.facts`, and the `--facts-from`
  guard of `up` / `config apply`.

This package sits above the areas (it uses appliance, dns, tls and registry) and below the
runbooks and the CLI.
"""
