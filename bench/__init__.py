"""Benchmarks: run on purpose (`python -m bench.<name>`), never as part of the test suite."""
