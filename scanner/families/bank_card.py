"""The bank's model card, typed: what scoring reads (window thresholds, image rules, window-size
calibrations, the map of any detector) and the make split the bank was trained on, plus the
card's descriptive sections (heads chosen, calibration evidence, training, versions) kept as
written. ``bank.json`` is :meth:`BankCard.to_json` plus the architecture and the weights' sha256
(:func:`scanner.families.bank.save_bank`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core.constants import PATCH
from ..core.types import AnyCalibration, ImageRule, ScaleCalibration, SpreadRule, sigmoid
from .cards import TrainingSplit

TYPED = ("thresholds", "image_rule", "scales", "any_map", "data")
"""Card sections read into typed fields; every other section is kept as written (:attr:`BankCard.about`)."""


@dataclass(frozen=True)
class CoreRule:
    """A detector's image rule on the card: the image probability ``threshold`` that connected
    windows covering ``min_area`` pixels must exceed, and the rule for processing spread over the
    whole image (None on cards before 0.9) (:class:`scanner.core.types.ImageRule`)."""

    threshold: float
    min_area: int
    spread: SpreadRule | None = None

    @classmethod
    def from_json(cls, rule: dict[str, Any]) -> "CoreRule":
        spread = rule.get("spread")
        return cls(float(rule["threshold"]), int(rule["min_area"]),
                   SpreadRule(tuple(int(s) for s in spread["sides"]), tuple(float(t) for t in spread["thresholds"]))
                   if spread else None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"threshold": self.threshold, "min_area": self.min_area}
        if self.spread:
            out["spread"] = {"sides": list(self.spread.sides), "thresholds": list(self.spread.thresholds)}
        return out


@dataclass
class BankCard:
    """The typed card of a bank. ``thresholds``: each detector's window threshold (logit);
    ``image_rules``: each detector's :class:`CoreRule`; ``scales``: window size (pixels) ->
    :class:`ScaleCalibration` of each detector and resaved map (empty on cards before 0.6);
    ``any_map``: the map of any detector's calibration; ``split``: the make split trained on;
    ``about``: the other sections, as written (``any_map`` also keeps its method there)."""

    thresholds: dict[str, float]
    image_rules: dict[str, CoreRule]
    scales: dict[str, dict[int, ScaleCalibration]] = field(default_factory=dict)
    any_map: AnyCalibration | None = None
    split: TrainingSplit | None = None
    about: dict[str, Any] = field(default_factory=dict)

    def image_rule(self, name: str) -> ImageRule:
        """When detector ``name`` flags an image."""
        rule = self.image_rules[name]
        return ImageRule(float(sigmoid(self.thresholds[name])), rule.threshold, rule.min_area, rule.spread)

    def window_scales(self, name: str) -> dict[int, ScaleCalibration]:
        """Window size -> calibration of detector (or resaved map) ``name``; on cards without
        scales, a detector's 128-pixel window threshold with spread 1 (nothing for other maps)."""
        if not self.scales:
            return {PATCH: ScaleCalibration(self.thresholds[name], 1.0)} if name in self.thresholds else {}
        return dict(self.scales.get(name, {}))

    def select(self, names: list[str]) -> "BankCard":
        """The card of the detectors in ``names`` only (maps other than detectors are kept)."""
        return BankCard({n: t for n, t in self.thresholds.items() if n in names},
                        {n: r for n, r in self.image_rules.items() if n in names},
                        {n: s for n, s in self.scales.items() if n in names or n not in self.thresholds},
                        self.any_map, self.split, self.about)

    @classmethod
    def from_json(cls, card: dict[str, Any]) -> "BankCard":
        """Read a card's JSON object (every version since 0.5; ``stride_calibrated``, written
        before 0.8 and never read, is dropped). Raises KeyError when a typed section lacks a field."""
        any_map = card.get("any_map")
        about = {k: v for k, v in card.items() if k not in TYPED}
        if any_map:
            about["any_map"] = {k: v for k, v in any_map.items() if k not in ("offsets", "threshold")}
        return cls(
            {n: float(t["logit"]) for n, t in card["thresholds"].items()},
            {n: CoreRule.from_json(r) for n, r in card["image_rule"].items()},
            {n: {int(w): ScaleCalibration(float(c["threshold"]), float(c["spread"])) for w, c in s.items()}
             for n, s in card.get("scales", {}).items()},
            AnyCalibration({n: float(v) for n, v in any_map["offsets"].items()}, float(any_map["threshold"])) if any_map else None,
            TrainingSplit.from_json(card["data"]) if "data" in card else None,
            about)

    def to_json(self) -> dict[str, Any]:
        """The card's JSON object (without architecture and weights, which the bank adds)."""
        out: dict[str, Any] = {k: v for k, v in self.about.items() if k != "any_map"}
        out["thresholds"] = {n: {"logit": t, "probability": float(sigmoid(t))} for n, t in self.thresholds.items()}
        out["image_rule"] = {n: r.to_json() for n, r in self.image_rules.items()}
        if self.scales:
            out["scales"] = {n: {str(w): {"threshold": c.threshold, "spread": c.spread} for w, c in s.items()}
                             for n, s in self.scales.items()}
        if self.any_map is not None:
            out["any_map"] = {"offsets": self.any_map.offsets, "threshold": self.any_map.threshold,
                              **self.about.get("any_map", {})}
        if self.split is not None:
            out["data"] = self.split.to_json()
        return out
