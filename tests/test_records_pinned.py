"""The records `scanner scan --json` writes are pinned: a refactor must leave every field of every
record, the summary, the options, the models' thresholds and the raw maps as pinned, scanning with
0.7.1's bank (tests/golden/weights-0.7.1), so the pin holds the code, not the weights. Pinned with
0.7.1, re-pinned with 0.9.0 for its intended changes (naming, JPEG history, extents; CHANGELOG)
and with 0.11.0 (the shifted-grid fields of `jpeg`).
Regenerate the pinned file only for a change that means to move a record:
``python -m tests.golden.evidence tests/golden/records-0.7.1.json`` (and say so in CHANGELOG.md)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.golden.evidence import scan_pinned

PINNED = Path(__file__).parent / "golden" / "records-0.7.1.json"


def test_scan_records_equal_the_pinned_ones(tmp_path):
    expected = json.loads(PINNED.read_text())
    got = json.loads(json.dumps(scan_pinned(tmp_path), sort_keys=True))
    assert got.keys() == expected.keys()
    for key in ("summary", "options", "models", "raw_maps"):
        assert got[key] == expected[key], key
    assert [r["path"] for r in got["images"]] == [r["path"] for r in expected["images"]]
    for mine, theirs in zip(got["images"], expected["images"]):
        assert mine == theirs, mine["path"]
