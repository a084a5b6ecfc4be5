"""Pipelines that compose the areas: `up`, `check`, `snapshot`/`verify`
(docs/reference/architecture.md §2)."""
