"""dns area."""
