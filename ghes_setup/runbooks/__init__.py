"""Pipelines that compose the areas: `up`, `check`, `snapshot`/`verify` (design.md §2)."""
