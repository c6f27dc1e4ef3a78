"""Scan reports: the JSON document (schema in docs/json-schema.md), JSON lines, and the
human table. Data goes to stdout, progress and messages to stderr."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from . import __version__
from .detectors import Detector
from .exitcodes import ExitCode
from .scan import ImageRecord, ScanOptions, scan

SCHEMA_VERSION = 1


class Report:
    """Runs a scan and writes its results in one of three forms: ``json_mode`` None (a Rich
    table), ``'json'`` (one document at the end) or ``'jsonl'`` (a line per image as it
    completes, then a summary line)."""

    def __init__(self, detectors: dict[str, Detector], json_mode: str | None, console) -> None:
        self.detectors = detectors
        self.json_mode = json_mode
        self.console = console
        self.records: list[ImageRecord] = []

    def models(self) -> dict:
        return {name: {"file": str(d.path), "sha256": d.sha256, "threshold": round(d.threshold, 4),
                       "architecture": d.card["architecture"]["type"]} for name, d in self.detectors.items()}

    def summary(self) -> dict:
        statuses = [r.status for r in self.records]
        flagged_by = {name: sum(bool(r.detections.get(name, {}).get("flagged")) for r in self.records) for name in self.detectors}
        return {"files": len(self.records), "ok": statuses.count("ok"), "error": statuses.count("error"),
                "skipped": statuses.count("skipped"),
                "flagged_images": sum(any(d["flagged"] for d in r.detections.values()) for r in self.records),
                "flagged_by_detector": flagged_by, "exit_code": int(self.exit_code())}

    def exit_code(self) -> int:
        if any(any(d["flagged"] for d in r.detections.values()) for r in self.records):
            return ExitCode.FLAGGED
        if any(r.status != "ok" for r in self.records):
            return ExitCode.INCOMPLETE
        return ExitCode.CLEAN

    def run(self, paths: list, options: ScanOptions, recursive: bool, hidden: bool, pattern: str | None, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        show = self.console.is_terminal and not self.console.quiet
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=self.console, disable=not show, transient=True) as progress:
            task = progress.add_task("scanning", total=total)
            for record in scan(paths, self.detectors, options, recursive, hidden, pattern):
                self.records.append(record)
                progress.update(task, advance=1, description=f"scanning {Path(record.path).name[:40]}")
                if record.status != "ok" and self.json_mode is None:
                    self.console.print(f"[yellow]{record.status}:[/] {record.error['message']}", highlight=False)
                if self.json_mode == "jsonl":
                    sys.stdout.write(json.dumps(record.to_dict()) + "\n")
                    sys.stdout.flush()
        if self.json_mode == "json":
            document = {"schema_version": SCHEMA_VERSION, "tool": {"name": "scanner", "version": __version__},
                        "models": self.models(), "images": [r.to_dict() for r in self.records], "summary": self.summary()}
            sys.stdout.write(json.dumps(document, indent=2) + "\n")
        elif self.json_mode == "jsonl":
            sys.stdout.write(json.dumps({"summary": self.summary(), "schema_version": SCHEMA_VERSION,
                                         "tool": {"name": "scanner", "version": __version__}, "models": self.models()}) + "\n")
        else:
            self.print_table()

    def print_table(self) -> None:
        from rich.console import Console
        from rich.table import Table

        out = Console()
        table = Table(title="scanner: evidence of processing per image", title_justify="left")
        table.add_column("file", overflow="fold")
        table.add_column("status")
        for name in self.detectors:
            table.add_column(name, justify="right")
        table.add_column("where to look", overflow="fold")
        for r in self.records:
            if r.status != "ok":
                table.add_row(r.path, r.status, *["-"] * len(self.detectors), r.error["code"] if r.error else "")
                continue
            cells = []
            for name in self.detectors:
                d = r.detections[name]
                cells.append(f"[bold red]{d['score']:.2f} !" if d["flagged"] else f"{d['score']:.2f}")
            flagged = [n for n, d in r.detections.items() if d["flagged"]]
            where = "; ".join(f"evidence of {n} at x{d['top_region']['bbox'][0]}-{d['top_region']['bbox'][2]} "
                              f"y{d['top_region']['bbox'][1]}-{d['top_region']['bbox'][3]} ({d['flagged_fraction']:.0%} of windows)"
                              for n, d in r.detections.items() if n in flagged)
            table.add_row(r.path, "ok", *cells, where or "no evidence found")
        out.print(table)
        s = self.summary()
        out.print(f"{s['files']} files: {s['ok']} analysed, {s['flagged_images']} with evidence of processing, "
                  f"{s['error']} errors, {s['skipped']} skipped. Scores are the 0.95 quantile of window probabilities; "
                  "'!' marks scores over the detector's threshold. No evidence is not proof of authenticity.")
