"""ghes-setup: take a GitHub Enterprise Server appliance to working subdomain isolation, TLS,
GitHub Packages and Container registry, prove it with a real push and pull, and keep proving it.

The package is a library first; `ghes_setup.cli` is one client of it. Importing this package
must stay cheap (no third-party imports here): `ghes-setup --version` starts from it.
"""

__version__ = "0.1.0"
