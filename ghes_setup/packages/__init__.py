"""packages area."""
