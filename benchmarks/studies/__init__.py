"""Benchmarks: studies (see benchmarks/README.md)."""
