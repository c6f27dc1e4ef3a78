"""The settings of a scan, shared by the maps, the analysis, the writers and the engines."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.constants import WINDOWS
from ..inputs.images import DEFAULT_MAX_PIXELS


@dataclass
class ScanOptions:
    """Settings of a scan (see ``scanner scan --help``). ``window`` None fuses the maps of
    :data:`WINDOWS` into the localisation map; a size in pixels uses that size alone."""

    stride: int = 32
    device: str = "cpu"
    threshold: float | None = None
    heatmaps: Path | None = None
    raw_maps: bool = False
    thumbnails: bool = False
    overwrite: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    threads: int = 1
    window: int | None = None

    @property
    def map_windows(self) -> tuple[int, ...]:
        """The window sizes of the localisation map: ``window`` alone, else :data:`WINDOWS`."""
        return (self.window,) if self.window else WINDOWS
