"""Trained detectors shipped with scanner (state dicts + JSON model cards)."""
