"""packages area: GitHub Packages and its blob storage (issue 4 §4).

- `backends`: the `StorageBackend` table (s3, minio, azure): everything decided per backend.
- `desired`: the site's `[packages]` as settings (`PACKAGES_SCOPE`, `desired_packages`), the
  storage secrets from the environment, the precheck's arguments.
- `storage`: the appliance's storage utilities over SSH (ghe-packages-precheck,
  ghe-check-blob-connection).
- `service`: `packages enable` (apply_site with the precheck and blob-check hooks, which `up`
  and `registry start` reuse) and `packages status`.
- `check_enabled`, `check_storage` (+ `context`, `status`): `packages-enabled`,
  `packages-storage`.
"""
