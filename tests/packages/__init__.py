"""Packages and the registry service against the lab appliance and real TLS servers."""
