"""Scan reports: the JSON document (schema in docs/json-schema.md), JSON lines, and the
human table. Data goes to stdout, progress and messages to stderr."""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import __version__
from ..core.constants import PATCH
from ..core.exitcodes import ExitCode
from ..scoring.options import ScanOptions
from ..scoring.records import ImageRecord
from .html import write_report

SCHEMA_VERSION = 2
"""Version of the JSON output (``scanner/schema/scan-report.schema.json``); 2 added the scan's options and
times, per-image ``flagged``, ``operation`` and ``verdict``, and the summary's ``outcome_code``."""

PROGRESS_EVERY = 5.0
"""Seconds between plain progress lines when stderr is not a terminal."""


def now() -> str:
    """The current time, ISO 8601 with the UTC offset."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


class Report:
    """Runs a scan and writes its results in one of three forms: ``json_mode`` None (a Rich
    table), ``'json'`` (one document at the end) or ``'jsonl'`` (a line per image as it
    completes, then a summary line). A run interrupted by Ctrl-C still writes its summary,
    marked ``interrupted``, then re-raises."""

    def __init__(self, detectors, json_mode: str | None, console, options: ScanOptions, exit_zero: bool = False,
                 html: Path | None = None, engine: Callable[[], dict] | None = None) -> None:
        self.html = html
        self.engine = engine or (lambda: {"name": "local"})
        self.detectors = detectors
        self.json_mode = json_mode
        self.console = console
        self.options = options
        self.exit_zero = exit_zero
        self.records: list[ImageRecord] = []
        self.started = now()
        self.finished: str | None = None
        self.interrupted = False
        self.data = sys.stdout  # where data goes, kept even if sys.stdout is redirected later (the Ray engine's messages)

    def models(self) -> dict:
        return self.detectors.describe()

    def settings(self) -> dict:
        """What the scan was asked to do: enough to repeat it and to map a window back to pixels."""
        o = self.options
        rules = {n: self.detectors.image_rule(n).to_dict() for n in self.detectors.names}
        return {"stride": o.stride, "window": PATCH, "map_windows": list(o.map_windows),
                "device": str(o.device), "threads": o.threads,
                "image_rules": rules, "threshold_override": o.threshold, "max_pixels": o.max_pixels,
                "heatmaps": str(o.heatmaps) if o.heatmaps else None, "raw_maps": o.raw_maps, "overwrite": o.overwrite,
                "report": str(self.html) if self.html else None, "engine": self.engine()}

    def header(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, "tool": {"name": "scanner", "version": __version__},
                "started": self.started, "finished": self.finished, "interrupted": self.interrupted,
                "options": self.settings(), "models": self.models()}

    def summary(self) -> dict:
        statuses = [r.status for r in self.records]
        flagged_by = {name: sum(r.detections[name].flagged for r in self.records if name in r.detections)
                      for name in self.detectors.names}
        named: dict[str, int] = {}
        for r in self.records:
            if r.flagged and r.naming is not None:
                named[r.naming.label] = named.get(r.naming.label, 0) + 1
        outcome = int(self.outcome_code())
        return {"files": len(self.records), "ok": statuses.count("ok"), "error": statuses.count("error"),
                "skipped": statuses.count("skipped"), "flagged_images": sum(r.flagged for r in self.records),
                "flagged_by_detector": flagged_by, "named_operations": named,
                "maps_not_written": sum(any("not written" in w for w in r.warnings) for r in self.records),
                "outcome_code": outcome, "exit_code": int(self.exit_code()), "exit_zero": self.exit_zero,
                "interrupted": self.interrupted}

    def outcome_code(self) -> int:
        """What the scan found, as an exit code: 1 flagged, 3 nothing flagged but some inputs
        not analysed, 0 otherwise (130 when interrupted)."""
        if self.interrupted:
            return ExitCode.INTERRUPTED
        if any(r.flagged for r in self.records):
            return ExitCode.FLAGGED
        if any(r.status != "ok" for r in self.records):
            return ExitCode.INCOMPLETE
        return ExitCode.CLEAN

    def exit_code(self) -> int:
        """The process's exit code: the outcome, or 0 under ``--exit-zero`` once the scan completed."""
        return ExitCode.CLEAN if self.exit_zero and not self.interrupted else self.outcome_code()

    def _progress_line(self, done: int, total: int, started: float) -> None:
        flagged = sum(r.flagged for r in self.records)
        self.console.print(f"scanned {done}/{total} files, {flagged} flagged, {time.monotonic() - started:.0f} s", highlight=False)

    def run(self, records: Iterable[ImageRecord], total: int) -> None:
        """Consume the records of a scan (any engine's), showing progress, then write the output."""
        bar = self.console.is_terminal and not self.console.quiet
        plain = not self.console.is_terminal and not self.console.quiet
        started = last = time.monotonic()
        try:
            with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          console=self.console, disable=not bar, transient=True) as progress:
                task = progress.add_task("scanning", total=total)
                if plain:
                    self.console.print(f"scanning {total} files", highlight=False)
                for record in records:
                    line = json.dumps(record.to_dict()) + "\n" if self.json_mode == "jsonl" else None
                    self.records.append(record)  # counted and printed together, so Ctrl-C cannot split them
                    if line is not None:
                        self.data.write(line)
                        self.data.flush()
                    progress.update(task, advance=1, description=f"scanning {Path(record.path).name[:40]}")
                    if record.status != "ok":  # on stderr in every mode: JSON goes to a file, messages to the user
                        self.console.print(f"[yellow]{record.status}:[/] {escape(record.error['message'])}", highlight=False)
                    for warning in record.warnings:
                        self.console.print(f"[yellow]warning:[/] {escape(f'{record.path}: {warning}')}", highlight=False)
                    if plain and time.monotonic() - last >= PROGRESS_EVERY:
                        last = time.monotonic()
                        self._progress_line(len(self.records), total, started)
        except KeyboardInterrupt:
            self.interrupted = True
            raise
        finally:
            self.finished = now()
            if plain and not self.interrupted:
                self._progress_line(len(self.records), total, started)
            engine = self.engine()
            if engine.get("already_recorded") and not self.console.quiet:
                self.console.print(f"{engine['already_recorded']} files already recorded in {engine['shards']} were skipped",
                                   highlight=False)
            self.write()

    def write(self) -> None:
        """Write the final output of the chosen form (also after an interruption)."""
        if self.json_mode == "json":
            document = {**self.header(), "images": [r.to_dict() for r in self.records], "summary": self.summary()}
            self.data.write(json.dumps(document, indent=2) + "\n")
        elif self.json_mode == "jsonl":
            self.data.write(json.dumps({"summary": self.summary(), **self.header()}) + "\n")
        elif not self.interrupted:
            self.print_table()
        self.data.flush()
        if self.html is not None:
            page = write_report(self.html, self.header(), self.records, self.summary(), self.detectors.names)
            self.console.print(f"report: {page}", highlight=False)

    def print_table(self) -> None:
        # piped to a file, the table is as wide as it needs: paths are never cut
        out = Console(file=self.data) if self.data.isatty() else Console(file=self.data, width=100_000, soft_wrap=True)
        table = Table(title="scanner: evidence of processing per image", title_justify="left")
        table.add_column("file", no_wrap=True)
        table.add_column("status")
        for name in self.detectors.names:
            table.add_column(name, justify="right")
        table.add_column("where to look", overflow="fold")
        for r in self.records:
            if r.status != "ok":
                table.add_row(escape(r.path), r.status, *["-"] * len(self.detectors.names), r.error["code"] if r.error else "")
                continue
            cells = [f"[bold red]{d.score:.2f} !" if d.flagged else f"{d.score:.2f}" for d in r.detections.values()]
            where = r.verdict
            own = [d.explained for d in r.detections.values() if d.explained]
            if own:
                where += f"; stored as JPEG at quality {r.jpeg.quality if r.jpeg else '?'}: the jpeg detector's score is the file's own compression"
            if r.flagged:
                top = max(r.regions, key=lambda g: (g.detector == r.operation, g.area))
                x0, y0, x1, y1 = top.bbox
                where += f"; largest region x{x0}-{x1} y{y0}-{y1}"
            table.add_row(escape(r.path), "ok", *cells, escape(where))
        out.print(table)
        s = self.summary()
        out.print(f"{s['files']} files: {s['ok']} analysed, {s['flagged_images']} with evidence of processing, "
                  f"{s['error']} errors, {s['skipped']} skipped. A score is the highest window probability q such that the "
                  "windows at q or above form a region as large as the detector's image rule asks; '!' marks scores over "
                  "the detector's threshold; a finding over the whole image comes from the spread rule (mean window logit). "
                  "No evidence is not proof of authenticity.")
