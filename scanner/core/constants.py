"""Sizes and names that the detectors, the scoring, the writers and the training all agree on."""

from __future__ import annotations

PATCH = 128
"""Side in pixels of an analysis window (the paper's patch): every verdict reads windows of this size."""

MIN_AREA = 192 * 192
"""Pixels the core of a region must cover to flag an image: a 192-pixel square, about 3 x 3
windows at stride 32 (the image rule; see :func:`scanner.scoring.rules.image_score`)."""

SPREAD_CLIP = 10.0
"""Largest magnitude (logit) a window contributes to a spread score (:class:`scanner.core.types.SpreadRule`),
so that a few saturated windows (a flat sky, a clipped highlight) cannot carry a whole image."""

FLAT_STD = 1.0
"""Windows whose grey levels vary less than this (standard deviation) are flat (black, clipped
white): their logits carry no evidence and the spread score leaves them out."""

MIN_TEXTURED = 0.1
"""Least share of textured (not flat) windows an image needs for a spread score."""

SPREAD_SIDES = (512, 1024, 2048)
"""Sides in pixels of the pristine crops a spread rule is calibrated on (one threshold each)."""

WINDOWS = (32, 64, 128)
"""Window sizes in pixels whose maps are fused into the localisation map (``--window`` picks one)."""

MAP_CELL = 8
"""Side in pixels of a cell of the localisation map (the finest window stride)."""

JPEG_DETECTOR = "jpeg"
"""Name of the detector of JPEG compression, which a JPEG file's own compression can explain."""

OWN_JPEG_QUALITY = 95
"""A JPEG file stored below this quality (its own tables, :func:`scanner.inputs.jpeg_file.ijg_quality`)
explains a finding of the JPEG detector that covers most of the image: the detector recognises a
quality band, not a second compression (docs/jpeg-history.md)."""

ANY_MAP = "any"
"""Name of the map of any detector: the map to read when the operation is unknown."""

CARD_SCHEMA = 1
"""Version of the model-card layout written beside every safetensors file."""
