"""Benchmarks: reports (see benchmarks/README.md)."""
