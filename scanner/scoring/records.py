"""The record of one input file, as every engine returns it and every writer reads it."""

from __future__ import annotations

from dataclasses import dataclass, field

from .rules import Detection, Region


@dataclass
class ImageRecord:
    """The result for one input file (the ``images`` entries of the JSON output).

    ``flagged`` is true exactly when some detector found a qualifying region; ``operation``
    names the most likely manipulation then; ``verdict`` says the same in words."""

    path: str
    sha256: str | None = None
    status: str = "ok"
    error: dict | None = None
    input: dict | None = None
    flagged: bool = False
    operation: str | None = None
    detections: dict[str, Detection] = field(default_factory=dict)
    heatmaps: dict | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def regions(self) -> list[Region]:
        """Every detector's qualifying regions."""
        return [r for d in self.detections.values() for r in d.regions]

    @property
    def verdict(self) -> str:
        if self.status != "ok":
            return f"not analysed ({self.error['code']})" if self.error else "not analysed"
        if not self.flagged:
            return "no evidence found"
        others = [n for n, d in self.detections.items() if d.flagged and n != self.operation]
        return f"evidence of {self.operation}" + (f" (also flagged: {', '.join(others)})" if others else "")

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "status": self.status, "error": self.error,
                "input": self.input, "flagged": self.flagged, "operation": self.operation, "verdict": self.verdict,
                "detections": {n: d.to_dict() for n, d in self.detections.items()},
                "regions": [r.to_dict() for r in self.regions], "heatmaps": self.heatmaps, "warnings": self.warnings}


def missing_record(path: str) -> ImageRecord:
    """The record of an input path that does not exist."""
    return ImageRecord(path=path, status="error", error={"code": "not_found", "message": f"{path}: no such file or folder"})
