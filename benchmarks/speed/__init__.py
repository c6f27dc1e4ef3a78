"""Benchmarks: speed (see benchmarks/README.md)."""
