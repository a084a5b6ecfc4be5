"""Packages failures, placed in the one exception tree (ghes_setup.errors):

InputError (exit 3)
├── PackagesNeedSsh         Packages keys are ghe-config keys: only the admin SSH shell
│                           sets them (the Manage API has no Packages fields)
└── PrecheckFailed          ghe-packages-precheck refused the site's storage; nothing
                            was written (like a certificate that fails `tls check`)
ApplianceError
└── StorageCheckFailed      exit 1: ghe-check-blob-connection failed after the apply
"""

from __future__ import annotations

from ghes_setup.errors import ApplianceError, InputError


class PackagesNeedSsh(InputError):
    """No admin SSH shell in this run, and only ghe-config over SSH can set Packages."""


class PrecheckFailed(InputError):
    """The appliance's storage precheck failed: the site's storage or credentials do not work."""


class StorageCheckFailed(ApplianceError):
    """ghe-check-blob-connection failed on the applied configuration (falls through to exit 1)."""
