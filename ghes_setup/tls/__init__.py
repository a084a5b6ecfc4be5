"""tls area."""
