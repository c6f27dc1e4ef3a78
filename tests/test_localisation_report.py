"""scanner.evaluation.localisation_report: the page states what it was given, every field filled."""

from pathlib import Path

from scanner.evaluation.localisation_report import case_table, localisation_markdown

METHODS = ("fused", "128", "svm fused", "svm 128", "any fused")
KEYS = ("auc", "f1", "mcc", "best_f1", "best_mcc", "image_auc", "source_over", "elsewhere_over")


def metrics(level: float) -> dict[str, dict[str, float]]:
    return {m: {k: level + i / 100 for k in KEYS} for i, m in enumerate(METHODS)}


def test_page_counts_the_small_cases_the_fused_map_wins():
    results = {"small splice blur 0.5": metrics(0.5), "small splice noise 2": metrics(0.2),
               "copy-move resize 1.5": metrics(0.7)}
    results["small splice blur 0.5"]["fused"]["best_f1"] = 0.9  # above its 128-pixel map's 0.51; noise's stays below
    page = localisation_markdown(results, 7, ["Canon X", "Nikon Y"], {"blur": {"fused": 0.01, "128": 0.02}},
                                 ["\n### a figure\n"], Path("/nowhere/weights"), 16, "cpu", "scanner evaluate --localization", 12.3)
    assert "**1 of 2** cases" in page
    assert "**7 held-out photos**" in page and "Canon X, Nikon Y" in page and "12 s" in page
    assert "| copy-move resize 1.5 | 0.700 | 0.700 |" in page  # its source row: fused source over, elsewhere over
    assert "| blur | 0.0100 | 0.0200 |" in page and "### a figure" in page
    assert "{" not in page.replace("```", "")


def test_case_rows_hold_each_metric_in_order():
    rows = case_table({"large splice blur 1.1": metrics(0.3)}, ["large splice blur 1.1"])
    cells = rows[2].strip("| ").split(" | ")
    assert cells[0] == "large splice blur 1.1" and len(cells) == len(rows[0].strip("| ").split(" | "))
    assert cells[1:5] == ["0.300", "0.310", "0.320", "0.330"]  # AUC of fused, 128, SVM fused, SVM 128
