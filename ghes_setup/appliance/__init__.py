"""appliance area."""
