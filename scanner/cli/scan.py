"""``scanner scan``: verdicts, regions, heat maps and reports for files and folders."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ..core.exitcodes import ExitCode
from .app import DEVICES, EXIT_CODES_HELP, MANIP_HELP, fatal, pick_device, stderr_console


def check_output_folder(folder: Path, option: str, overwrite: bool) -> None:
    """Refuse, before any work, an output folder that is a file, cannot be created or written,
    or already holds files (unless ``overwrite``): exit 2 with the reason."""
    if folder.exists() and not folder.is_dir():
        fatal(f"{option} {folder} is a file, not a folder", ExitCode.USAGE)
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        fatal(f"{option} {folder} already holds files; choose a new folder or pass --overwrite to replace them", ExitCode.USAGE)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".scanner-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        fatal(f"{option} {folder} cannot be written: {exc.strerror or exc}", ExitCode.USAGE)
    if not os.access(folder, os.W_OK):
        fatal(f"{option} {folder} cannot be written", ExitCode.USAGE)


SCAN_EXAMPLES = """Examples:

  scanner scan ./evidence                           table on stdout, progress on stderr

  scanner scan ./evidence --heatmaps ./maps         one figure per image in ./maps

  scanner scan ./evidence --json > report.json      one JSON document on stdout

  scanner scan ./evidence --jsonl | jq .verdict     one record per line, then a summary

  scanner scan photo.jpg -m blur -m resize --stride 16 --threads 1

  scanner scan ./evidence --workers 2               two files at once, one process each

  scanner scan ./corpus --engine ray --shards ./records   many files, resumable
"""


SCAN_EPILOG = SCAN_EXAMPLES + "\n" + EXIT_CODES_HELP
"""Examples under ``scanner scan --help``."""


def scan(
    paths: List[Path] = typer.Argument(..., metavar="PATH...", help="Files and folders to scan (folders recursively)."),
    manip: Optional[List[str]] = typer.Option(None, "--manip", "-m", help=f"Detector to run ({MANIP_HELP}); repeat for several. Default: all five."),
    stride: int = typer.Option(32, min=1, max=128, help="Step in pixels between the 128x128 windows that decide the verdict."),
    window: Optional[int] = typer.Option(None, help="Draw the localisation map (heat maps, region boxes) from windows of this size alone: 32, 64 or 128 pixels. Default: the three sizes fused."),
    device: str = typer.Option("auto", help=f"{DEVICES} (networks trained with --arch recast or bayar; the shipped bank runs on the CPU)."),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads per scoring process; default: the cores this process may use, shared among the --workers (Ray: 1). Give 1 when sharing a machine with another scan."),
    threshold: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="Window probability threshold for every detector; default: each detector's calibrated one."),
    json_out: bool = typer.Option(False, "--json", help="Write one JSON document to stdout (and nothing else)."),
    jsonl: bool = typer.Option(False, "--jsonl", help="Stream one JSON record per line to stdout, then a summary line."),
    heatmaps: Optional[Path] = typer.Option(None, "--heatmaps", help="Write one figure per image here (original, and each detector's map with its scale, score, threshold and regions)."),
    raw_maps: bool = typer.Option(False, "--raw-maps", help="With --heatmaps or --report: also write each detector's window probabilities (.npy) and localisation map (.map.npy), and the map of any detector (any.map.npy)."),
    report_dir: Optional[Path] = typer.Option(None, "--report", help="Write an HTML report here (index.html: sortable table, thumbnails, figures)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Allow an output folder that already holds files, and replace them."),
    engine: str = typer.Option("local", help='local (this machine) or ray (workers on a Ray cluster; pip install "scanner\\[ray]").'),
    shards: Optional[Path] = typer.Option(None, "--shards", help="--engine ray: folder of the JSON-lines record shards (required); a re-run with the same folder skips the files already recorded there."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="--engine ray: the cluster to join (e.g. auto, or ray://HEAD:10001); default: start a local one."),
    workers: Optional[int] = typer.Option(None, min=1, help="Files scored at once, each by a worker process that loads the detectors once. Local engine: default 1 (this process alone); 2 on two cores scans a folder about 1.5x faster. Ray: default 2."),
    batch_size: int = typer.Option(4, min=1, help="--engine ray: files per task (and per shard)."),
    glob: Optional[str] = typer.Option(None, "--glob", help="Only scan files in folders whose name matches this pattern, e.g. '*.jpg'."),
    hidden: bool = typer.Option(False, "--hidden", help="Include hidden files and folders."),
    recursive: bool = typer.Option(True, "--recursive/--no-recursive", help="Descend into sub-folders."),
    max_pixels: int = typer.Option(100_000_000, help="Refuse images with more pixels than this."),
    weights: Optional[Path] = typer.Option(None, help="Folder of detectors (model cards + weights); default: the shipped ones."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 whatever was found (reporting-only runs)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or messages on stderr."),
) -> None:
    """Scan images for traces of processing: per-image verdicts, the operation most likely
    applied, regions and heat maps."""
    check_scan_options(json_out, jsonl, window, raw_maps, heatmaps, report_dir, engine, shards, ray_address)
    names = detector_names(manip)
    files, missing = find_inputs(paths, recursive, hidden, glob)
    heatmaps = prepare_outputs(heatmaps, report_dir, shards, overwrite)
    dev = pick_device(device)
    from ..core.threads import available_cores, use_threads
    from ..scoring.options import ScanOptions
    from ..writers.report import Report

    workers = min(workers or 1, len(files)) if engine == "local" else workers or 2
    n_threads = (threads or 1) if engine == "ray" else use_threads(threads or max(1, available_cores() // workers))
    detectors = load_detectors(names, dev, weights, window)
    options = ScanOptions(stride=stride, device=dev, threshold=threshold, heatmaps=heatmaps, raw_maps=raw_maps,
                          thumbnails=report_dir is not None, overwrite=overwrite, max_pixels=max_pixels, threads=n_threads,
                          window=window)
    if engine == "ray":
        from ..engines.ray import RayScan

        records = RayScan([str(p) for p in paths], shards, options, names, str(weights) if weights else None, ray_address,
                          workers, batch_size, recursive=recursive, include_hidden=hidden, pattern=glob)
        describe = records.describe
    else:
        from ..engines.local import scan as scan_local

        records = scan_local(paths, detectors, options, recursive, hidden, glob, workers)

        def describe() -> dict:
            return {"name": "local", "workers": workers}
    report = Report(detectors, "json" if json_out else "jsonl" if jsonl else None, stderr_console(quiet), options, exit_zero, report_dir, describe)
    if engine == "ray":  # Ray's driver prints task and worker messages on stdout: only data may go there
        sys.stdout = sys.stderr
    try:
        report.run(records, total=len(files) + len(missing))
    except KeyboardInterrupt:
        stderr_console(quiet).print(f"interrupted after {len(report.records)} files")
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    finally:
        if engine == "ray":
            records.close()  # stops the workers and a cluster this run started, while stdout is still redirected
            sys.stdout = report.data
    raise typer.Exit(int(report.exit_code()))


def check_scan_options(json_out: bool, jsonl: bool, window: int | None, raw_maps: bool, heatmaps: Path | None,
                       report_dir: Path | None, engine: str, shards: Path | None, ray_address: str | None) -> None:
    """Refuse, before any work, options that contradict each other (exit 2), and the Ray engine
    when Ray is not installed (exit 4)."""
    from ..core.constants import WINDOWS

    if json_out and jsonl:
        fatal("--json and --jsonl are exclusive", ExitCode.USAGE)
    if window is not None and window not in WINDOWS:
        fatal(f"--window {window}: choose from {', '.join(map(str, WINDOWS))} pixels", ExitCode.USAGE)
    if raw_maps and heatmaps is None and report_dir is None:
        fatal("--raw-maps needs --heatmaps DIR or --report DIR", ExitCode.USAGE)
    if engine not in ("local", "ray"):
        fatal(f"unknown --engine {engine!r}; choose local or ray", ExitCode.USAGE)
    if engine == "local" and (shards is not None or ray_address is not None):
        fatal("--shards and --ray-address need --engine ray", ExitCode.USAGE)
    if engine == "ray":
        if shards is None:
            fatal("--engine ray needs --shards DIR, the folder its records are written to", ExitCode.USAGE)
        if heatmaps is not None or report_dir is not None:
            fatal("--engine ray writes records only: drop --heatmaps/--report, or rescan the flagged files locally", ExitCode.USAGE)
        from ..engines.ray import INSTALL_HINT, ray_available

        if not ray_available():
            fatal(INSTALL_HINT)


def detector_names(manip: list[str] | None) -> list[str]:
    """The detectors asked for (default all five); exit 2 on an unknown one."""
    from ..processing.manipulations import MANIPULATIONS

    names = manip or list(MANIPULATIONS)
    unknown = [m for m in names if m not in MANIPULATIONS]
    if unknown:
        fatal(f"unknown detector {', '.join(unknown)}; choose from {MANIP_HELP}", ExitCode.USAGE)
    return names


def find_inputs(paths: list[Path], recursive: bool, hidden: bool, glob: str | None) -> tuple[list, list[str]]:
    """(files to scan, paths that do not exist); exit 2 when there is nothing to scan."""
    from ..inputs.discovery import collect_inputs

    files, missing = collect_inputs(paths, recursive, hidden, glob)
    if not files:
        where = ", ".join(str(p) for p in paths if str(p) not in missing)
        fatal("no inputs found" + (f" in {where}" if where else "") + (f" matching --glob {glob!r}" if glob else "")
              + ("" if recursive else " (--no-recursive)") + (f"; missing: {', '.join(missing)}" if missing else ""), ExitCode.USAGE)
    return files, missing


def prepare_outputs(heatmaps: Path | None, report_dir: Path | None, shards: Path | None, overwrite: bool) -> Path | None:
    """Check every output folder before any work (:func:`check_output_folder`); returns the
    figures folder (a report's ``figures/`` when only --report is given)."""
    if heatmaps is not None:
        check_output_folder(heatmaps, "--heatmaps", overwrite)
    if report_dir is not None:
        check_output_folder(report_dir, "--report", overwrite)
        heatmaps = heatmaps or report_dir / "figures"
    if shards is not None and shards.exists() and not shards.is_dir():
        fatal(f"--shards {shards} is a file, not a folder", ExitCode.USAGE)
    return heatmaps


def load_detectors(names: list[str], device, weights: Path | None, window: int | None):
    """The detector set of ``weights`` (default the shipped one); exit 4 when the weights are
    missing or corrupt, 2 when ``window`` is a size they are not calibrated for."""
    from ..families.cards import WeightsError
    from ..families.registry import load_shipped

    try:
        detectors = load_shipped(names, device, weights)
    except WeightsError as exc:
        fatal(str(exc))
    uncalibrated = [n for n in detectors.names if window is not None and window not in detectors.scales(n)]
    if uncalibrated:
        fatal(f"--window {window}: the detectors {', '.join(uncalibrated)} are not calibrated for it "
              f"(they are for {', '.join(str(w) for w in sorted(detectors.scales(uncalibrated[0])))} pixels)", ExitCode.USAGE)
    return detectors
