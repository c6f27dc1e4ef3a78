"""One command for every number and figure the README and docs/ state on the shipped weights.

    python -m benchmarks.regenerate --list                  # the steps, their pages and cost
    python -m benchmarks.regenerate status localisation demo-figure
    python -m benchmarks.regenerate all                     # every step, hours on 2 cores

Each step runs its command from the repository root, one at a time (never two timed at once), and
stamps the pages it wrote with the scanner version, the date and the command that regenerates
them, on the line after the title. Pages that depend on more than the shipped weights say so in
their step (the three design splits train their own banks; Table II trains its own networks).
"""

from __future__ import annotations

import argparse
import datetime
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import scanner

DOCS = Path("docs")
STAMP = re.compile(r"^_Regenerated with scanner .*_$")


@dataclass(frozen=True)
class Step:
    """A regeneration step: the pages it writes, the commands that write them, and what it costs."""

    name: str
    pages: tuple[str, ...]
    commands: tuple[tuple[str, ...], ...]
    cost: str
    prints: str | None = None
    """The title of the page when the report prints Markdown on stdout rather than writing its page."""


PY = sys.executable
SCANNER = (PY, "-m", "scanner")
REPORTS = "benchmarks.reports"
STEPS = (
    Step("status", ("docs/status.md",), ((PY, "-m", f"{REPORTS}.status_report", "--out", "docs/status.md"),),
         "about 10 minutes: the shipped bank on the sealed split's held-out makes (the README's Status)"),
    Step("verdicts", ("docs/verdicts.md",),
         ((*SCANNER, "train", "--split", "0", "--out", "models/split0", "--overwrite", "--quiet"),
          (PY, "-m", f"{REPORTS}.verdicts_report", "--bank", "sealed=weights", "--save", "models/verdicts-sealed.json"),
          (PY, "-m", f"{REPORTS}.verdicts_report", "--bank", "0=models/split0", "--save", "models/verdicts-0.json"),
          (PY, "-m", f"{REPORTS}.verdicts_report", "--load", "models/verdicts-sealed.json", "--load", "models/verdicts-0.json",
           "--out", "docs/verdicts.md")),
         "about 90 minutes: the bank of split 0 (16 minutes with warm caches), then image verdicts, naming and JPEG history "
         "on the held-out makes of the sealed split (shipped weights) and of split 0"),
    Step("localisation", ("docs/results-localization.md",),
         ((*SCANNER, "evaluate", "--localization", "--out", "docs/results-localization.md"),),
         "about 25 minutes: forgery localisation, shipped maps against SRM+SVM, and its figures in docs/figures/"),
    Step("untrained-edits", ("docs/reports/untrained-edits.md",),
         ((PY, "-m", f"{REPORTS}.untrained_edits", "--bank", "sealed=weights"),), prints="Edits no detector was trained on", cost="about 15 minutes"),
    Step("lossless", ("docs/reports/lossless-localisation.md",),
         ((PY, "-m", f"{REPORTS}.lossless_localisation", "--bank", "sealed=weights"),), prints="The map of any detector in files never stored as JPEG", cost="about 15 minutes"),
    Step("recompressed", ("docs/reports/recompressed-forgeries.md",),
         ((PY, "-m", f"{REPORTS}.recompressed_forgeries", "--bank", "sealed=weights"),), prints="Forgeries saved as JPEG after the edit", cost="about 15 minutes"),
    Step("resaved", ("docs/reports/resaved-heads.md",),
         ((PY, "-m", f"{REPORTS}.resaved_heads", "--bank", "sealed=weights"),), prints="The resaved heads through a later JPEG save", cost="about 10 minutes"),
    Step("demo-figure", ("docs/figures/demo-splice-blurred.jpg",), (), "about a minute: `scanner demo`, its blurred splice's figure"),
    Step("design-splits", ("docs/detectors.md",),
         tuple((*SCANNER, "train", "--split", str(s), "--out", f"models/split{s}", "--overwrite", "--quiet") for s in range(3))
         + ((PY, "-m", f"{REPORTS}.detectors_report", "--bank", "0=models/split0", "--bank", "1=models/split1",
             "--bank", "2=models/split2", "--out", "docs/detectors.md"),),
         "about 2.5 hours: three banks of the design splits, then their held-out tables (not the shipped weights)"),
)
"""Every step, in the order ``all`` runs them. Table II (docs/results-table2.md) is not here: it
trains its own networks for hours per task (``scanner evaluate --table2``, docs/performance.md)."""


def stamp(page: Path, command: str) -> None:
    """Put the version, date and ``command`` on the line after the page's title (replacing an older stamp)."""
    lines = page.read_text(encoding="utf-8").splitlines()
    line = f"_Regenerated with scanner {scanner.__version__} on {datetime.date.today()} by `{command}`._"
    if len(lines) > 2 and STAMP.match(lines[2]):
        lines[2] = line
    else:
        lines[1:1] = ["", line]
    page.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(step: Step) -> None:
    """Run one step's commands; a report that prints goes to its page; then stamp the pages."""
    if step.name == "demo-figure":
        with tempfile.TemporaryDirectory() as work:
            subprocess.run([*SCANNER, "demo", str(Path(work) / "demo")], check=True, stdout=subprocess.DEVNULL)
            figure = Path(work) / "demo" / "heatmaps" / "forged" / "china_splice_blurred.png.figure.jpg"
            shutil.copyfile(figure, step.pages[0])
        return
    for command in step.commands:
        print("$", " ".join(command), flush=True)
        if step.prints:
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            page = Path(step.pages[0])
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(f"# {step.prints}\n\n{output}", encoding="utf-8")
        else:
            subprocess.run(command, check=True)
    for page in step.pages:
        if page.endswith(".md"):
            stamp(Path(page), f"python -m benchmarks.regenerate {step.name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("steps", nargs="*", help="steps to run (all: every one)")
    parser.add_argument("--list", action="store_true", help="print the steps and exit")
    args = parser.parse_args()
    names = [s.name for s in STEPS]
    if args.list or not args.steps:
        for s in STEPS:
            print(f"{s.name:16} {', '.join(s.pages)}\n{'':16} {s.cost}")
        return
    unknown = set(args.steps) - set(names) - {"all"}
    if unknown:
        parser.error(f"unknown steps {', '.join(sorted(unknown))}; choose from {', '.join(names)} or all")
    for step in STEPS:
        if "all" in args.steps or step.name in args.steps:
            run(step)


if __name__ == "__main__":
    main()
