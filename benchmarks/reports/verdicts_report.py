"""Image verdicts on held-out makes: false alarms, whole-image detection at every strength, naming
and its confusion, and JPEG history -> docs/verdicts.md.

    python -m benchmarks.reports.verdicts_report --bank sealed=weights --save verdicts-sealed.json
    python -m benchmarks.reports.verdicts_report --bank 0=models/split0 --save verdicts-0.json
    python -m benchmarks.reports.verdicts_report --load verdicts-sealed.json --load verdicts-0.json --out docs/verdicts.md

Each ``SPLIT=FOLDER`` is a bank trained by ``scanner train --split SPLIT``; it is measured on the
photos of the makes its split held out: each photo as stored and processed as a whole at the
strongest and the weakest strength of each operation (its central 512-pixel crop and the whole photo, scanned at stride 32), and its central
1024-pixel crop with a blob of itself processed by the same tasks spliced back. JPEG history reads
the lossless Kodak and McMaster scans compressed once (60-95), the held-out camera JPEGs saved
again (70-90) and as the camera wrote them. Rates count distinct photos; intervals are 95%
photo bootstrap intervals (1000 resamples).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path

import scanner
from benchmarks.common import load_bank
from scanner.evaluation import jpeg_history as history
from scanner.evaluation.verdicts import (
    UNTOUCHED,
    Verdict,
    flag_rate,
    label_counts,
    local_verdicts,
    naming_counts,
    processed_verdicts,
)
from scanner.inputs.jpeg_file import file_quality
from scanner.processing.manipulations import all_tasks, task_key
from scanner.training.photos import list_photos, make_split

SIZES = {"crop": "512-pixel crops", "whole": "whole photos"}


def report_tasks() -> list[tuple[str, float]]:
    """The strongest and the weakest strength of each operation (issue 29's targets)."""
    tasks = all_tasks()
    strengths = {m: [s for n, s in tasks if n == m] for m, _ in tasks}
    return [(m, s) for m, s in tasks if s in (max(strengths[m]), min(strengths[m]))]


def measure(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict:
    split, bank, root = load_bank(parser, args)
    sides = make_split(list_photos(root), split)
    test, lossless = sides["test"], sides["lossless"]
    started = time.perf_counter()
    verdicts = processed_verdicts(bank, test, report_tasks())
    verdicts += local_verdicts(bank, test, report_tasks())
    verdicts += processed_verdicts(bank, lossless, [], sizes=("whole",))
    jpeg = {"compressed once (Kodak, McMaster)": history.compressed_once(lossless),
            "camera JPEG saved again (held-out makes)": history.saved_again(test),
            "camera JPEG as written (held-out makes)": history.as_written(test)}
    return {"split": split, "version": scanner.__version__, "test_makes": sorted(bank.trained_on.test_makes),
            "photos": len(test), "lossless": [p.path.name for p in lossless], "verdicts": [asdict(v) for v in verdicts],
            "qualities": {p.path.name: file_quality(p.path) for p in test},
            "jpeg": {k: asdict(v) for k, v in jpeg.items()}, "seconds": round(time.perf_counter() - started)}


def pct(hits: int, n: int, interval) -> str:
    return f"{hits}/{n} ({100 * hits / max(1, n):.1f}% [{interval[0]:.1f}, {interval[1]:.1f}])"


def untouched_lines(r: dict, verdicts: list[Verdict]) -> list[str]:
    lossless = set(r["lossless"])
    camera = [v for v in verdicts if v.photo not in lossless]
    film = [v for v in verdicts if v.photo in lossless]
    names = sorted({n for v in verdicts for n, _ in v.flagged} | {"median", "blur", "noise", "resize", "jpeg"})
    lines = ["| untouched | any detector | " + " | ".join(names) + " |", "|---|---|" + "---|" * len(names)]
    for label, rows, size in [(f"camera, {SIZES['crop']}", camera, "crop"), (f"camera, {SIZES['whole']}", camera, "whole"),
                              ("film scans (Kodak, McMaster), whole", film, "whole")]:
        cells = [pct(*flag_rate(rows, UNTOUCHED, size, n)) for n in names]
        lines.append(f"| {label} | {pct(*flag_rate(rows, UNTOUCHED, size))} | " + " | ".join(cells) + " |")
    return lines


def detection_lines(verdicts: list[Verdict]) -> list[str]:
    lines = ["| task | " + " | ".join(f"{SIZES[s]}: right detector [95%]" for s in SIZES) + " | of those, global |",
             "|---|---|---|---|"]
    for manip, strength in report_tasks():
        key = task_key(manip, strength)
        cells = [pct(*flag_rate(verdicts, key, size, manip)) for size in SIZES]
        found = [v for v in verdicts if v.truth == key and v.size in SIZES and (manip, "global") in v.flagged]
        right = [v for v in verdicts if v.truth == key and v.size in SIZES and any(n == manip for n, _ in v.flagged)]
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {len(found)}/{len(right)} |")
    return lines


LOWERED = (0.0, 0.5, 1.0, 2.0)
"""Logits by which the trade-off table lowers every spread threshold (0: as shipped)."""


def tradeoff_lines(verdicts: list[Verdict]) -> list[str]:
    """What lowering the spread thresholds would buy and cost on these photos: untouched camera
    photos flagged against the weakest strength of each operation found, per detector."""
    weakest = {m: task_key(m, s) for m, s in report_tasks()}  # strongest first: the last one stays
    lines = ["| detector | lowered by (logits) | untouched crops flagged | untouched whole photos flagged | "
             "weakest strength | found, crops | found, whole photos |", "|---|---|---|---|---|---|---|"]
    for manip, key in sorted(weakest.items()):
        for lowered in LOWERED:
            cells = [pct(*flag_rate(verdicts, UNTOUCHED, size, manip, lowered)) for size in SIZES]
            found = [pct(*flag_rate(verdicts, key, size, manip, lowered)) for size in SIZES]
            lines.append(f"| {manip} | {lowered:g} | " + " | ".join(cells) + f" | {key} | " + " | ".join(found) + " |")
    for lowered in LOWERED:
        cells = [pct(*flag_rate(verdicts, UNTOUCHED, size, None, lowered)) for size in SIZES]
        lines.append(f"| any | {lowered:g} | " + " | ".join(cells) + " | | | |")
    return lines


OWN_QUALITY_BANDS = ((0, 90, "90 or lower"), (91, 94, "91-94"), (95, 100, "95 or higher"))
"""Bands of the quality a camera stored its photo at (the file's own tables)."""


def own_quality_lines(verdicts: list[Verdict], qualities: dict[str, int | None], key: str = "jpeg:90") -> list[str]:
    """``key`` found by the JPEG detector, by the quality at which the camera stored each photo: does
    a second compression at 90 escape the detector mostly in photos the camera stored at 90 or lower?"""
    lines = ["| camera's own quality | photos | " + " | ".join(f"found, {SIZES[s]}" for s in SIZES) + " |", "|---|---|---|---|"]
    for low, high, label in OWN_QUALITY_BANDS:
        mine = [v for v in verdicts if (qualities.get(v.photo) or 0) in range(low, high + 1)]
        photos = {v.photo for v in mine if v.truth == key}
        if photos:
            cells = [pct(*flag_rate(mine, key, size, key.split(":")[0])) for size in SIZES]
            lines.append(f"| {label} | {len(photos)} | " + " | ".join(cells) + " |")
    return lines


def naming_lines(verdicts: list[Verdict], size: str) -> list[str]:
    readings = ["right", "cannot tell (incl.)", "wrong", "cannot tell (excl.)", "not flagged"]
    counts = naming_counts(verdicts, size)
    lines = ["| task | " + " | ".join(readings) + " |", "|---|" + "---|" * len(readings)]
    total = {k: 0 for k in readings}
    for key, c in counts.items():
        lines.append(f"| {key} | " + " | ".join(str(c[k]) for k in readings) + " |")
        for k in readings:
            total[k] += c[k]
    flagged = sum(total[k] for k in readings[:4])
    honest = total["right"] + total["cannot tell (incl.)"]
    lines += [f"| **all** | " + " | ".join(str(total[k]) for k in readings) + " |", "",
              f"Of {flagged} flagged: right or an honest 'cannot tell' {honest} ({100 * honest / max(1, flagged):.1f}%), "
              f"a wrong single name {total['wrong']} ({100 * total['wrong'] / max(1, flagged):.1f}%)."]
    return lines


def confusion_lines(verdicts: list[Verdict], size: str) -> list[str]:
    counts = label_counts(verdicts, size)
    labels = sorted({label for c in counts.values() for label in c}, key=lambda s: (s == "-", " or " in s, s))
    lines = ["| truth \\ label | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels)]
    for truth, c in counts.items():
        lines.append(f"| {truth} | " + " | ".join(str(c[label]) if c[label] else "" for label in labels) + " |")
    return lines


def jpeg_lines(r: dict) -> list[str]:
    lines = ["| files | photos | evidence / undetermined / none | evidence % [95%] |", "|---|---|---|---|"]
    for label, h in r["jpeg"].items():
        reads = h["readings"]
        lines.append(f"| {label}: {h['files']} files | {h['photos']} | {reads.get('evidence', 0)} / "
                     f"{reads.get('undetermined', 0)} / {reads.get('none', 0)} | {h['evidence']:.1f} "
                     f"[{h['interval'][0]:.1f}, {h['interval'][1]:.1f}] |")
    return lines


def markdown(results: list[dict], command: str) -> str:
    lines = ["# Verdicts: whole images, naming and JPEG history on held-out makes", "", "Produced by:", "", "```bash", command, "```", ""]
    for r in results:
        verdicts = [Verdict(**{**v, "flagged": tuple(tuple(f) for f in v["flagged"]),
                               "spread": tuple(tuple(f) for f in v.get("spread", ()))}) for v in r["verdicts"]]
        camera = [v for v in verdicts if v.photo not in set(r["lossless"])]
        lines += [f"## Split {r['split']} (scanner {r['version']}): {r['photos']} held-out photos of {len(r['test_makes'])} makes",
                  "", f"Held-out makes: {', '.join(r['test_makes'])}. Measured in {r['seconds']} s.", "",
                  "### Untouched photos flagged", "", *untouched_lines(r, verdicts), "",
                  "### Photos processed as a whole: flagged by the right detector", "", *detection_lines(camera), "",
                  "### Lower spread thresholds: untouched photos flagged against the weakest strength found", "",
                  "Every spread threshold lowered by the same number of logits, from the spread scores of the "
                  "same scans (local findings stay). Read only, not used to set a threshold.", "",
                  *tradeoff_lines(camera), ""]
        if r.get("qualities"):
            lines += ["### JPEG 90 by the quality the camera stored the photo at", "", *own_quality_lines(camera, r["qualities"]), ""]
        for size in ("crop", "whole", "local"):
            what = SIZES.get(size, "1024-pixel crops with a blob of 12-25% processed (local edits)")
            lines += [f"### Naming, {what}", "", *naming_lines(camera, size), "",
                      f"### Confusion, {what}: true task against the label of the verdict ('-': not flagged)", "",
                      *confusion_lines(camera, size), ""]
        lines += ["### JPEG history", "", *jpeg_lines(r), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", help="SPLIT=FOLDER, a bank trained on split SPLIT (sealed, or a seed)")
    parser.add_argument("--images", type=Path, default=None, help="pristine photos (default ../shared/data/pristine)")
    parser.add_argument("--save", type=Path, help="write the measured split as JSON")
    parser.add_argument("--load", type=Path, action="append", default=[], help="a split measured with --save")
    parser.add_argument("--out", type=Path, help="write the Markdown page here")
    args = parser.parse_args()
    results = [json.loads(p.read_text()) for p in args.load]
    if args.bank:
        results.append(measure(parser, args))
        if args.save:
            args.save.write_text(json.dumps(results[-1]))
    if not results:
        parser.error("nothing to report: pass --bank or --load")
    command = "python -m benchmarks.reports.verdicts_report " + " ".join(
        [f"--load {p}" for p in args.load] + ([f"--bank {args.bank}"] if args.bank else []) + ([f"--out {args.out}"] if args.out else []))
    page = markdown(results, command)
    if args.out:
        args.out.write_text(page, encoding="utf-8")
    else:
        print(page)


if __name__ == "__main__":
    main()
