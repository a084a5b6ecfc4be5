"""Reporters: pure functions from a `Report` to text (or a rich renderable, for humans).

They never print and never decide exit codes; `ghes_setup.cli` does both. Every text they
produce goes through `secrets.scrub` as a last line of defence.
"""
