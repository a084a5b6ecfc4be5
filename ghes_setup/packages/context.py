"""What the Packages checks share: the transport, the site, one settings read, the admin shell.

Checks run concurrently, so the context memoises the Packages settings under a lock (one SSH
read for both checks). Packages settings are ghe-config keys: without the admin SSH shell
they cannot be read, and both checks say so as `error`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from ghes_setup.appliance.context import Remembered
from ghes_setup.appliance.transport import ApplianceTransport, Settings
from ghes_setup.config.site import Site
from ghes_setup.packages.desired import PACKAGES_SCOPE
from ghes_setup.packages.storage import (
    StorageTest,
    UtilityRunner,
    check_blob_connection,
    require_runner,
    utility_runner,
)


@dataclass
class PackagesContext:
    transport: ApplianceTransport
    site: Site
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _settings: Remembered[Settings] = field(default_factory=Remembered, repr=False)
    _storage_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _storage_test: Remembered[StorageTest] = field(default_factory=Remembered, repr=False)

    def runner(self) -> UtilityRunner:
        """The admin shell (`PackagesNeedSsh` when this run has none)."""
        return require_runner(self.transport, "reading the GitHub Packages configuration")

    @property
    def has_shell(self) -> bool:
        return utility_runner(self.transport) is not None

    def settings(self) -> Settings:
        """Every Packages setting, read once (secrets arrive as `Secret`; only 'set' is used)."""
        with self._lock:
            return self._settings.get(self._read_settings)

    def storage_test(self) -> StorageTest:
        """The appliance's own blob storage test (`ghe-check-blob-connection`), run once: a
        `check` run may start it ahead, as soon as packages-enabled passes
        (`PipelineContext.start_appliance`), and packages-storage takes its answer."""
        with self._storage_lock:
            return self._storage_test.get(lambda: check_blob_connection(self.runner()))

    def _read_settings(self) -> Settings:
        self.runner()
        return self.transport.read_settings(PACKAGES_SCOPE)
