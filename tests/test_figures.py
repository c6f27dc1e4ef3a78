"""scanner.writers.figures: panels say what was found, and nothing on an unflagged panel looks
like a detection; text stays inside its panel."""

import numpy as np
from PIL import Image, ImageDraw

from scanner.writers.figures import _font, detector_panel, wrap


def test_subtitles_wrap_to_the_panel_width():
    text = "score 0.985 / image threshold 0.999; map dimmed, nothing outlined: no region qualifies; 0 region(s)"
    lines = wrap(text, _font(12), 200)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength
    assert len(lines) > 1 and " ".join(lines) == text
    assert all(measure(line, font=_font(12)) <= 200 for line in lines)


def test_an_unflagged_map_is_dimmed_and_not_outlined():
    gray = np.full((64, 96), 128.0)
    hot = np.zeros((64, 96))
    hot[16:48, 24:72] = 1.0  # a bright patch, over the threshold
    flagged = np.asarray(detector_panel(gray, hot, "t", "s", 0.5, [], 1.0, True)).astype(int)
    quiet = np.asarray(detector_panel(gray, hot, "t", "s", 0.5, [], 1.0, False)).astype(int)
    top_f, top_q = flagged.shape[0] - 64, quiet.shape[0] - 64  # the map, below the title lines, left of the colour bar
    cyan = lambda a, top: np.sum((a[top:, :96, 0] == 0) & (a[top:, :96, 1] == 255) & (a[top:, :96, 2] == 255))
    assert cyan(flagged, top_f) > 0 and cyan(quiet, top_q) == 0
    departure = lambda a, top: np.abs(a[top + 16 : top + 48, 30:66] - 128).mean()
    assert departure(quiet, top_q) < 0.5 * departure(flagged, top_f)
