"""scanner.families.bank_card: the typed card reads every card version and writes what it read."""

import json

import pytest

from scanner.core.types import ImageRule, ScaleCalibration, SpreadRule, sigmoid
from scanner.families.bank_card import BankCard, CoreRule
from scanner.families.cards import TrainingSplit, shipped_dir


def shipped_json() -> dict:
    return json.loads((shipped_dir() / "bank.json").read_text())


def test_the_shipped_card_round_trips_apart_from_the_unread_stride():
    written = shipped_json()
    card = BankCard.from_json(written)
    again = card.to_json()
    for rule in written["image_rule"].values():
        rule.pop("stride_calibrated", None)
    written["data"].setdefault("split", str(written["data"]["split_seed"]))
    assert json.loads(json.dumps(again)) == written
    assert BankCard.from_json(again) == card


def test_typed_fields_equal_the_json_they_came_from():
    written = shipped_json()
    card = BankCard.from_json(written)
    for name, threshold in written["thresholds"].items():
        assert card.thresholds[name] == threshold["logit"]
        rule = card.image_rule(name)
        spread = written["image_rule"][name]["spread"]
        assert rule == ImageRule(threshold["probability"], written["image_rule"][name]["threshold"],
                                 written["image_rule"][name]["min_area"], SpreadRule(tuple(spread["sides"]), tuple(spread["thresholds"])))
    assert card.window_scales("blur")[64] == ScaleCalibration(**written["scales"]["blur"]["64"])
    assert card.any_map.threshold == written["any_map"]["threshold"]
    assert card.split.test_makes == tuple(written["data"]["test_makes"])


def test_a_card_without_scales_falls_back_to_the_window_threshold():
    card = BankCard({"blur": 1.5}, {"blur": CoreRule(0.9, 100)})
    assert card.window_scales("blur") == {128: ScaleCalibration(1.5, 1.0)}
    assert card.window_scales("blur-resaved") == {}
    assert card.image_rule("blur") == ImageRule(float(sigmoid(1.5)), 0.9, 100)


def test_select_keeps_the_chosen_detectors_and_the_maps():
    card = BankCard({"blur": 1.0, "jpeg": 2.0}, {"blur": CoreRule(0.9, 1), "jpeg": CoreRule(0.8, 1)},
                    {"blur": {128: ScaleCalibration(1, 1)}, "jpeg": {128: ScaleCalibration(2, 1)},
                     "blur-resaved": {128: ScaleCalibration(3, 1)}}, split=TrainingSplit("sealed", ("a",), ("b",)))
    chosen = card.select(["blur"])
    assert set(chosen.thresholds) == set(chosen.image_rules) == {"blur"}
    assert set(chosen.scales) == {"blur", "blur-resaved"} and chosen.split == card.split


def test_a_card_missing_a_rule_field_is_refused():
    written = shipped_json()
    del written["image_rule"]["blur"]["min_area"]
    with pytest.raises(KeyError):
        BankCard.from_json(written)


def test_a_spread_rule_round_trips_and_reaches_the_image_rule():
    written = shipped_json()
    written["image_rule"]["blur"]["spread"] = {"sides": [512, 2048], "thresholds": [0.25, -0.5]}
    card = BankCard.from_json(written)
    rule = card.image_rule("blur")
    assert rule.spread.threshold((512, 512)) == 0.25 and rule.spread.threshold((4000, 3000)) == -0.5
    assert BankCard.from_json(card.to_json()) == card
    assert rule.to_dict()["spread"] == {"sides": [512, 2048], "thresholds": [0.25, -0.5]}
    written["image_rule"]["blur"].pop("spread")
    assert BankCard.from_json(written).image_rule("blur").spread is None  # cards before 0.9
