"""The lab appliance: a stand-in GHES on loopback built from real servers
(docs/reference/architecture.md §5).

Production code never imports this package (an import-linter contract enforces it); only
`ghes_setup.cli.lab` and the tests do.
"""
