"""Benchmarks: speed (speed/), the numbers the docs state (reports/) and one-off studies behind a
design decision (studies/). Run each from the repository root as ``python -m benchmarks.KIND.NAME``
(README.md in this folder is the index)."""
