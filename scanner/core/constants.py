"""Sizes and names that the detectors, the scoring, the writers and the training all agree on."""

from __future__ import annotations

PATCH = 128
"""Side in pixels of an analysis window (the paper's patch): every verdict reads windows of this size."""

MIN_AREA = 192 * 192
"""Pixels the core of a region must cover to flag an image: a 192-pixel square, about 3 x 3
windows at stride 32 (the image rule; see :func:`scanner.scoring.rules.image_score`)."""

WINDOWS = (32, 64, 128)
"""Window sizes in pixels whose maps are fused into the localisation map (``--window`` picks one)."""

MAP_CELL = 8
"""Side in pixels of a cell of the localisation map (the finest window stride)."""

ANY_MAP = "any"
"""Name of the map of any detector: the map to read when the operation is unknown."""

CARD_SCHEMA = 1
"""Version of the model-card layout written beside every safetensors file."""
