"""The record of one input file, as every engine returns it and every writer reads it."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.types import JpegHistory
from .naming import Naming
from .rules import Detection, Region


@dataclass
class ImageRecord:
    """The result for one input file (the ``images`` entries of the JSON output).

    ``flagged`` is true exactly when some detector found a qualifying region (a local one, or
    the whole image for a global finding); ``naming`` says which operation, or which ones the
    scanner cannot tell apart, and ``operation`` is the one name when there is one; ``jpeg``
    is a JPEG file's own compression history (None for other files); ``verdict`` says it in words."""

    path: str
    sha256: str | None = None
    status: str = "ok"
    error: dict | None = None
    input: dict | None = None
    flagged: bool = False
    naming: Naming | None = None
    detections: dict[str, Detection] = field(default_factory=dict)
    heatmaps: dict | None = None
    warnings: list[str] = field(default_factory=list)
    jpeg: JpegHistory | None = None

    @property
    def operation(self) -> str | None:
        """The one operation named, None when nothing is flagged or the scanner cannot tell."""
        return self.naming.operation if self.naming else None

    @property
    def regions(self) -> list[Region]:
        """Every detector's qualifying regions."""
        return [r for d in self.detections.values() for r in d.regions]

    @property
    def verdict(self) -> str:
        if self.status != "ok":
            return f"not analysed ({self.error['code']})" if self.error else "not analysed"
        history = ""
        if self.jpeg is not None and self.jpeg.double_compression == "evidence":
            earlier = f", earlier quality about {self.jpeg.earlier_quality}" if self.jpeg.earlier_quality else ""
            if self.jpeg.earlier_grid:
                earlier += f", earlier grid shifted by {self.jpeg.earlier_grid[0]},{self.jpeg.earlier_grid[1]} px"
            history = f"; JPEG compressed twice (quality {self.jpeg.quality}{earlier})"
        if not self.flagged or self.naming is None:
            return "no evidence found" + history
        if self.operation:
            found = self.detections[self.operation] if self.operation in self.detections else None
            said = f"evidence of {self.operation}"
            if found is not None and found.extent == "global":
                said += " over the whole image"
            elif found is not None and found.extent == "local":
                said += f" in {len(found.regions)} region{'s' if len(found.regions) > 1 else ''}"
        else:
            said = f"evidence of processing: {self.naming.label} (cannot tell which)"
        named = {c.operation for c in self.naming.candidates}
        others = [n for n, d in self.detections.items() if d.flagged and n not in named]
        return said + (f" (also flagged: {', '.join(others)})" if others else "") + history

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "status": self.status, "error": self.error,
                "input": self.input, "flagged": self.flagged, "operation": self.operation,
                "candidates": [c.to_dict() for c in self.naming.candidates] if self.naming else [],
                "verdict": self.verdict, "detections": {n: d.to_dict() for n, d in self.detections.items()},
                "regions": [r.to_dict() for r in self.regions], "jpeg": self.jpeg.to_dict() if self.jpeg else None,
                "heatmaps": self.heatmaps, "warnings": self.warnings}


def missing_record(path: str) -> ImageRecord:
    """The record of an input path that does not exist."""
    return ImageRecord(path=path, status="error", error={"code": "not_found", "message": f"{path}: no such file or folder"})
