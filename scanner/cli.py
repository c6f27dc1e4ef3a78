"""Command-line interface: a thin Typer layer over :mod:`scanner.engines.local`, :mod:`scanner.training`
and friends. Heavy modules (torch) are imported inside the commands, so ``--help`` and
``--version`` stay fast."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer
from typer.core import TyperCommand

from . import __version__
from .core.exitcodes import ExitCode

EXIT_CODES_HELP = (
    "Exit codes: 0 nothing flagged; 1 evidence of processing found in at least one image; "
    "2 usage error (bad option, no inputs found, unusable output folder); 3 nothing flagged but some inputs were "
    "unreadable or skipped; 4 fatal (weights missing or corrupt, CUDA asked for but absent); 130 interrupted (Ctrl-C). "
    "--exit-zero exits 0 after a completed scan (the JSON summary still gives the outcome_code)."
)


class Command(TyperCommand):
    """Typer's command with conventional help: flags show no value placeholder (typer 0.29
    prints ``--json <bool>``) and the usage line names arguments as ``PATH...``, not ``{paths}...``."""

    def get_params(self, ctx) -> list:
        params = super().get_params(ctx)
        for param in params:
            if param.param_type_name == "option" and getattr(param, "is_flag", False):
                param.metavar = ""
        return params

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = (param.metavar or param.name or "").upper()
                pieces.append(name + ("..." if param.nargs != 1 and not name.endswith("...") else ""))
        return pieces


app = typer.Typer(
    name="scanner",
    help="Forensic scanner for photographs: finds traces of median filtering, blurring, added noise, "
         "resizing and JPEG re-compression, per 128x128 window, with heat maps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"scanner {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit.")) -> None:
    """Forensic scanner for photographs."""


def _stderr(quiet: bool = False):
    """Messages and progress: stderr, never hard-wrapped (a log keeps each message on one line)."""
    from rich.console import Console

    return Console(stderr=True, quiet=quiet, soft_wrap=True)


def _fatal(message: str, code: ExitCode = ExitCode.FATAL) -> None:
    from rich.markup import escape

    _stderr().print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # paths may hold [brackets]
    raise typer.Exit(int(code))


DEVICES = "auto, cpu, cuda or cuda:N"


def _device(name: str):
    """The torch device for ``--device``: a name outside :data:`DEVICES` is a usage error
    (exit 2); CUDA asked for but absent is fatal (exit 4)."""
    import re

    if name not in ("auto", "cpu", "cuda") and not re.fullmatch(r"cuda:\d+", name):
        _fatal(f"--device {name!r} is not a device; use {DEVICES}", ExitCode.USAGE)
    from .training.environment import resolve_device

    try:
        return resolve_device(name)
    except RuntimeError as exc:
        _fatal(str(exc))


def _check_output_folder(folder: Path, option: str, overwrite: bool) -> None:
    """Refuse, before any work, an output folder that is a file, cannot be created or written,
    or already holds files (unless ``overwrite``): exit 2 with the reason."""
    import os

    if folder.exists() and not folder.is_dir():
        _fatal(f"{option} {folder} is a file, not a folder", ExitCode.USAGE)
    if folder.is_dir() and any(folder.iterdir()) and not overwrite:
        _fatal(f"{option} {folder} already holds files; choose a new folder or pass --overwrite to replace them", ExitCode.USAGE)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".scanner-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        _fatal(f"{option} {folder} cannot be written: {exc.strerror or exc}", ExitCode.USAGE)
    if not os.access(folder, os.W_OK):
        _fatal(f"{option} {folder} cannot be written", ExitCode.USAGE)


MANIP_HELP = "median, blur, noise, resize or jpeg"

EVALUATION_FOLDER = Path("scanner-evaluation")
"""Default output folder of ``scanner evaluate``, under the current folder."""

SCAN_EXAMPLES = """Examples:

  scanner scan ./evidence                           table on stdout, progress on stderr

  scanner scan ./evidence --heatmaps ./maps         one figure per image in ./maps

  scanner scan ./evidence --json > report.json      one JSON document on stdout

  scanner scan ./evidence --jsonl | jq .verdict     one record per line, then a summary

  scanner scan photo.jpg -m blur -m resize --stride 16 --threads 1

  scanner scan ./evidence --workers 2               two files at once, one process each

  scanner scan ./corpus --engine ray --shards ./records   many files, resumable
"""


@app.command(cls=Command, epilog=SCAN_EXAMPLES + "\n" + EXIT_CODES_HELP)
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
    if json_out and jsonl:
        _fatal("--json and --jsonl are exclusive", ExitCode.USAGE)
    from .core.constants import WINDOWS

    if window is not None and window not in WINDOWS:
        _fatal(f"--window {window}: choose from {', '.join(map(str, WINDOWS))} pixels", ExitCode.USAGE)
    if raw_maps and heatmaps is None and report_dir is None:
        _fatal("--raw-maps needs --heatmaps DIR or --report DIR", ExitCode.USAGE)
    if engine not in ("local", "ray"):
        _fatal(f"unknown --engine {engine!r}; choose local or ray", ExitCode.USAGE)
    if engine == "local" and (shards is not None or ray_address is not None):
        _fatal("--shards and --ray-address need --engine ray", ExitCode.USAGE)
    if engine == "ray":
        if shards is None:
            _fatal("--engine ray needs --shards DIR, the folder its records are written to", ExitCode.USAGE)
        if heatmaps is not None or report_dir is not None:
            _fatal("--engine ray writes records only: drop --heatmaps/--report, or rescan the flagged files locally", ExitCode.USAGE)
        from .engines.ray import INSTALL_HINT, ray_available

        if not ray_available():
            _fatal(INSTALL_HINT)
    from .processing.manipulations import MANIPULATIONS

    names = manip or list(MANIPULATIONS)
    unknown = [m for m in names if m not in MANIPULATIONS]
    if unknown:
        _fatal(f"unknown detector {', '.join(unknown)}; choose from {MANIP_HELP}", ExitCode.USAGE)
    from .inputs.discovery import collect_inputs
    from .scoring.options import ScanOptions

    files, missing = collect_inputs(paths, recursive, hidden, glob)
    if not files:
        where = ", ".join(str(p) for p in paths if str(p) not in missing)
        _fatal("no inputs found" + (f" in {where}" if where else "") + (f" matching --glob {glob!r}" if glob else "")
               + ("" if recursive else " (--no-recursive)") + (f"; missing: {', '.join(missing)}" if missing else ""), ExitCode.USAGE)
    if heatmaps is not None:
        _check_output_folder(heatmaps, "--heatmaps", overwrite)
    if report_dir is not None:
        _check_output_folder(report_dir, "--report", overwrite)
        heatmaps = heatmaps or report_dir / "figures"
    if shards is not None and shards.exists() and not shards.is_dir():
        _fatal(f"--shards {shards} is a file, not a folder", ExitCode.USAGE)
    dev = _device(device)
    from .core.threads import available_cores, use_threads

    workers = min(workers or 1, len(files)) if engine == "local" else workers or 2
    if engine == "ray":
        n_threads = threads or 1
    else:
        n_threads = use_threads(threads or max(1, available_cores() // workers))

    from .families.cards import WeightsError
    from .families.registry import load_shipped
    from .writers.report import Report

    try:
        detectors = load_shipped(names, dev, weights)
    except WeightsError as exc:
        _fatal(str(exc))
    uncalibrated = [n for n in detectors.names if window is not None and window not in detectors.scales(n)]
    if uncalibrated:
        _fatal(f"--window {window}: the detectors {', '.join(uncalibrated)} are not calibrated for it "
               f"(they are for {', '.join(str(w) for w in sorted(detectors.scales(uncalibrated[0])))} pixels)", ExitCode.USAGE)
    options = ScanOptions(stride=stride, device=dev, threshold=threshold, heatmaps=heatmaps, raw_maps=raw_maps,
                          thumbnails=report_dir is not None, overwrite=overwrite, max_pixels=max_pixels, threads=n_threads,
                          window=window)
    if engine == "ray":
        from .engines.ray import RayScan

        records = RayScan([str(p) for p in paths], shards, options, names, str(weights) if weights else None, ray_address,
                          workers, batch_size, recursive=recursive, include_hidden=hidden, pattern=glob)
        describe = records.describe
    else:
        from .engines.local import scan as scan_local

        records = scan_local(paths, detectors, options, recursive, hidden, glob, workers)

        def describe() -> dict:
            return {"name": "local", "workers": workers}
    report = Report(detectors, "json" if json_out else "jsonl" if jsonl else None, _stderr(quiet), options, exit_zero, report_dir, describe)
    if engine == "ray":  # Ray's driver prints task and worker messages on stdout: only data may go there
        sys.stdout = sys.stderr
    try:
        report.run(records, total=len(files) + len(missing))
    except KeyboardInterrupt:
        _stderr(quiet).print(f"interrupted after {len(report.records)} files")
        raise typer.Exit(int(ExitCode.INTERRUPTED))
    finally:
        if engine == "ray":
            records.close()  # stops the workers and a cluster this run started, while stdout is still redirected
            sys.stdout = report.data
    raise typer.Exit(int(report.exit_code()))


def _task(images: Optional[Path], manip: str, strength: Optional[List[float]], seed: int, patches: int, test_patches: int,
          cache: Optional[Path], quiet: bool):
    from .processing.manipulations import MANIPULATIONS
    from .training.patches import build_task
    from .training.photos import default_pristine_dir

    if manip not in MANIPULATIONS:
        _fatal(f"unknown manipulation {manip!r}; choose from {MANIP_HELP}", ExitCode.USAGE)
    root = images or default_pristine_dir()
    if root is None or not Path(root).is_dir():
        _fatal("no photo folder: pass --images DIR (default ../shared/data/pristine)", ExitCode.USAGE)
    _stderr(quiet).print(f"building patches for {manip} from {root}")
    return build_task(root, manip, tuple(strength) if strength else None, patches, test_patches, seed,
                      cache_dir=cache, progress=not quiet)


@app.command(cls=Command, epilog="Example:\n\n  scanner baseline --manip blur --strength 0.5")
def baseline(
    manip: str = typer.Option(..., "--manip", "-m", help=MANIP_HELP),
    strength: Optional[List[float]] = typer.Option(None, help="Strength(s) of the task; default: the three of Table I, mixed."),
    images: Optional[Path] = typer.Option(None, help="Folder of pristine photos (default ../shared/data/pristine)."),
    seed: int = typer.Option(0, help="Seed of the camera split and patch sampling."),
    patches_per_image: int = typer.Option(36, help="Training patches per photo (and as many processed)."),
    test_patches_per_image: int = typer.Option(16, help="Held-out positions per test photo."),
    out: Path = typer.Option(Path("models"), help="Folder for the saved SVM (.npz, no pickle)."),
    cache: Optional[Path] = typer.Option(None, help="Patch cache folder (default ~/.cache/scanner)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or messages on stderr."),
) -> None:
    """SRM descriptor + linear SVM on one task; accuracy on held-out cameras."""
    from .training.svm import run_baseline

    data = _task(images, manip, strength, seed, patches_per_image, test_patches_per_image, cache, quiet)
    svm, report = run_baseline(data, seed)
    out.mkdir(parents=True, exist_ok=True)
    name = manip if not strength else f"{manip}-{'-'.join(f'{s:g}' for s in strength)}"
    svm.save(out / f"{name}.svm.npz")
    report["manifest_sha256"] = data.manifest_sha256
    typer.echo(json.dumps(report, indent=2))


@app.command(cls=Command, epilog="Examples:\n\n  scanner train --split sealed --out weights   retrain every shipped detector (the bank)\n\n"
             "  scanner train --arch recast --manip blur --strength 0.5 --out models   the paper's CNN on one task")
def train(
    manip: Optional[List[str]] = typer.Option(None, "--manip", "-m", help=f"{MANIP_HELP}. bank: the detectors to keep (default all five); recast, bayar: the one task to train (required)."),
    arch: str = typer.Option("bank", help="bank (what ships: SRM submodel bank + linear heads), recast (the paper's CNN) or bayar (Bayar & Stamm 2016)."),
    images: Optional[Path] = typer.Option(None, help="Folder of pristine photos (default ../shared/data/pristine)."),
    out: Path = typer.Option(Path("models"), help="Output folder (bank: bank.json + bank.safetensors; recast/bayar: NAME.json + NAME.safetensors)."),
    seed: int = typer.Option(0, help="Seed of the make-disjoint split (bank) or camera split (recast, bayar)."),
    split: Optional[str] = typer.Option(None, help="bank: the make split to train on, 'sealed' (what ships since 0.8.0) or a seed; default the split of --seed."),
    folds: int = typer.Option(4, help="bank: make folds for cross-fitted calibration."),
    stride: int = typer.Option(32, help="bank: stride at which the image rule is calibrated."),
    strength: Optional[List[float]] = typer.Option(None, help="recast, bayar: strength(s) to train on; default the three of Table I, mixed."),
    epochs: Optional[int] = typer.Option(None, help="recast, bayar: epochs (default 15 recast, 60 bayar)."),
    lr: Optional[float] = typer.Option(None, help="recast, bayar: learning rate (default 1e-6 recast, 1e-3 bayar)."),
    batch_size: Optional[int] = typer.Option(None, help="recast, bayar: batch size (default 36 recast, 64 bayar)."),
    max_steps: Optional[int] = typer.Option(None, help="recast, bayar: cap on optimiser steps per epoch."),
    head_init: str = typer.Option("svm", help="recast: FC init, svm (SVM on exact SRM features) or svm-soft."),
    positions: Optional[int] = typer.Option(None, min=1, help="recast: training histograms average this many random positions of a patch (with the SRM codes as control variate), not all ~15600; 256 trains about 30x faster on a CPU."),
    minutes: Optional[float] = typer.Option(None, min=0.1, help="recast, bayar: stop training after this many minutes."),
    patches_per_image: int = typer.Option(36, help="recast, bayar: training patches per photo (and as many processed)."),
    test_patches_per_image: int = typer.Option(16, help="recast, bayar: held-out positions per test photo."),
    device: str = typer.Option("auto", help="recast, bayar: auto, cpu or cuda (the bank runs on the CPU)."),
    name: Optional[str] = typer.Option(None, help="recast, bayar: output name (default: the manipulation, plus strengths if given)."),
    resume: bool = typer.Option(False, help="recast, bayar: continue from the last epoch checkpoint."),
    cache: Optional[Path] = typer.Option(None, help="Descriptor and patch cache folder (default ~/.cache/scanner)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or messages on stderr."),
) -> None:
    """Train detectors: by default the shipped bank (all five detectors, thresholds and image rule);
    --arch recast or bayar trains one network for one task."""
    from .processing.manipulations import MANIPULATIONS

    unknown = [m for m in manip or [] if m not in MANIPULATIONS]
    if unknown:
        _fatal(f"unknown manipulation {', '.join(unknown)}; choose from {MANIP_HELP}", ExitCode.USAGE)
    if arch == "bank":
        from .families.bank import save_bank
        from .training.bank import train_bank
        from .training.photos import default_pristine_dir

        root = images or default_pristine_dir()
        if root is None or not Path(root).is_dir():
            _fatal("no photo folder: pass --images DIR (default ../shared/data/pristine)", ExitCode.USAGE)
        console = _stderr(quiet)
        if split is not None and split != "sealed" and not split.isdigit():
            _fatal(f"--split is 'sealed' or a seed such as 0, not {split!r}", ExitCode.USAGE)
        bank = train_bank(Path(root), seed, folds, stride, cache=cache, progress=None if quiet else console.print, split=split)
        card = save_bank(bank.select(manip) if manip else bank, out)
        console.print(f"wrote {card} and {card.with_suffix('.safetensors')}")
        written = bank.card.to_json()
        typer.echo(json.dumps({"card": str(card), "thresholds": written["thresholds"], "image_rule": written["image_rule"]}, indent=2))
        return
    from .training.networks import TrainConfig, train_detector

    if arch not in ("recast", "bayar"):
        _fatal("--arch must be bank, recast or bayar", ExitCode.USAGE)
    if not manip or len(manip) != 1:
        _fatal(f"--arch {arch} trains one task: give exactly one --manip", ExitCode.USAGE)
    if positions is not None and arch != "recast":
        _fatal("--positions is for --arch recast", ExitCode.USAGE)
    dev = _device(device)
    data = _task(images, manip[0], strength, seed, patches_per_image, test_patches_per_image, cache, quiet)
    cfg = TrainConfig.for_arch(arch, epochs=epochs, lr=lr, batch_size=batch_size, max_steps_per_epoch=max_steps,
                               head_init=head_init, seed=seed, positions=positions, max_minutes=minutes)
    name = name or (manip[0] if not strength else f"{manip[0]}-{'-'.join(f'{s:g}' for s in strength)}") + ("-bayar" if arch == "bayar" else "")
    try:
        card = train_detector(data, cfg, dev, out, name, checkpoint_dir=out / "checkpoints", resume=resume, progress=not quiet)
    except KeyboardInterrupt:
        _fatal("interrupted; the last completed epoch is kept in the checkpoint (rerun with --resume)", ExitCode.USAGE)
    _stderr(quiet).print(f"wrote {out / (name + '.safetensors')} and {out / (name + '.json')}")
    typer.echo(json.dumps({"name": name, "accuracy": card["accuracy"], "threshold": card["threshold"]}, indent=2))


@app.command(cls=Command, epilog="Examples:\n\n  scanner evaluate --localization\n\n  scanner evaluate --table2 --scale tiny --task blur:0.5")
def evaluate(
    localization: bool = typer.Option(False, "--localization", help="Pixel-level localisation of forgeries, large and small: shipped detectors (fused and 128-pixel maps) against SRM+SVM."),
    table2: bool = typer.Option(False, "--table2", help="The paper's Table II: SRM+SVM vs recast CNN vs Bayar2016 on 15 tasks."),
    scale: str = typer.Option("small", help="--table2 protocol: small (the paper's small training set: 15 recast, 60 Bayar epochs; hours per task on a CPU), reduced or tiny."),
    recast_epochs: Optional[int] = typer.Option(None, min=1, help="--table2: recast CNN epochs instead of the scale's."),
    bayar_epochs: Optional[int] = typer.Option(None, min=1, help="--table2: Bayar2016 epochs instead of the scale's (the report says which)."),
    positions: Optional[int] = typer.Option(None, min=1, help="--table2: the recast CNN's training histograms average this many random positions of a patch, not all ~15600 (an unbiased estimate; 256 makes the paper's schedule fit a CPU)."),
    bayar_minutes: Optional[float] = typer.Option(None, min=0.1, help="--table2: stop Bayar2016's training after this many minutes per task (a time budget)."),
    state: Optional[Path] = typer.Option(None, help="--table2: the resumable state (default OUT with .state.json); finished tasks are never recomputed."),
    task: Optional[List[str]] = typer.Option(None, help="--table2 tasks as MANIP:STRENGTH (repeat); default all 15."),
    redo: Optional[List[str]] = typer.Option(None, help="--table2: recompute this method's cells (svm, recast, bayar or shipped; repeat) in finished tasks where an older scanner version computed them, e.g. after a fix."),
    cache: Optional[Path] = typer.Option(None, help="Patch cache folder (default ~/.cache/scanner)."),
    images: Optional[Path] = typer.Option(None, help="Folder of pristine photos (default ../shared/data/pristine)."),
    n_images: int = typer.Option(8, help="Held-out photos (one forgery per photo and case)."),
    stride: int = typer.Option(16, help="Heat-map stride in pixels."),
    out: Optional[Path] = typer.Option(None, help="Markdown report; default scanner-evaluation/localization.md or scanner-evaluation/table2.md under the current folder (never the repository's docs)."),
    weights: Optional[Path] = typer.Option(None, help="Folder of detectors; default: the shipped ones."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    seed: int = typer.Option(0, help="Seed of the camera split (must match the detectors') and of the forgeries."),
) -> None:
    """Benchmarks: --localization (forgery localisation, shipped detectors against SRM+SVM) or
    --table2 (the paper's Table II); results in Markdown, figures beside them."""
    if localization == table2:
        _fatal("choose one evaluation: --localization or --table2", ExitCode.USAGE)
    from .training.photos import default_pristine_dir

    root = images or default_pristine_dir()
    if root is None:
        _fatal("no photo folder: pass --images DIR (default ../shared/data/pristine)", ExitCode.USAGE)
    dev = _device(device)
    console = _stderr()
    if table2:
        from .evaluation.table2 import TABLE2_METHODS, Table2Scale, run_table2

        try:
            protocol = Table2Scale.named(scale, recast_epochs, bayar_epochs, positions, bayar_minutes)
            tasks = [(t.split(":")[0], float(t.split(":")[1])) for t in task] if task else None
        except (ValueError, IndexError) as exc:
            _fatal(f"{exc}; tasks are MANIP:STRENGTH, e.g. blur:0.5", ExitCode.USAGE)
        unknown = set(redo or []) - set(TABLE2_METHODS)
        if unknown:
            _fatal(f"--redo takes {', '.join(TABLE2_METHODS)}, not {', '.join(sorted(unknown))}", ExitCode.USAGE)
        out = out or EVALUATION_FOLDER / "table2.md"
        command = (f"scanner evaluate --table2 --scale {scale}" + "".join(f" --task {t}" for t in task or [])
                   + (f" --recast-epochs {recast_epochs}" if recast_epochs else "") + (f" --bayar-epochs {bayar_epochs}" if bayar_epochs else "")
                   + (f" --positions {positions}" if positions else "") + (f" --bayar-minutes {bayar_minutes:g}" if bayar_minutes else "")
                   + "".join(f" --redo {m}" for m in redo or []) + (f" --seed {seed}" if seed else "")
                   + (f" --device {device}" if device != "auto" else "") + (f" --state {state}" if state else "") + f" --out {out}")
        run_table2(Path(root), protocol, out, state or out.with_suffix(".state.json"), dev, cache, tasks, command, seed,
                   redo=tuple(redo or ()),
                   progress=lambda key, r: console.print(f"{key}: SVM {r['svm']['accuracy']:.2f}, CNN {r['recast']['accuracy']:.2f}, "
                                                         f"Bayar {r['bayar']['accuracy']:.2f}, shipped {r['shipped']['accuracy']:.2f}"))
        console.print(f"wrote {out}")
        return
    from .evaluation.localisation import run_localisation
    from .families.cards import WeightsError
    from .families.registry import load_shipped

    try:
        detectors = load_shipped(device=dev, directory=weights)
    except WeightsError as exc:
        _fatal(str(exc))
    out = out or EVALUATION_FOLDER / "localization.md"
    command = ("scanner evaluate --localization" + (f" --weights {weights}" if weights else "") + (f" --seed {seed}" if seed else "")
               + (f" --n-images {n_images}" if n_images != 8 else "") + (f" --stride {stride}" if stride != 16 else "") + f" --out {out}")
    try:
        run_localisation(Path(root), detectors, out, n_images, stride, str(dev), seed, command,
                         progress=lambda label, m: console.print(f"{label}: best F1 fused {m['fused']['best_f1']:.3f}, 128 "
                                                               f"{m['128']['best_f1']:.3f}, SVM fused {m['svm fused']['best_f1']:.3f}, "
                                                               f"any {m['any fused']['best_f1']:.3f}"))
    except ValueError as exc:
        _fatal(str(exc), ExitCode.USAGE)
    console.print(f"wrote {out}")


@app.command(cls=Command, epilog="Example:\n\n  scanner demo ./my-demo")
def demo(
    directory: Path = typer.Argument(Path("scanner-demo"), help="Folder to create the evidence and results in."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    overwrite: bool = typer.Option(False, help="Rebuild the folder if it exists."),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads; default: every core this process may use."),
) -> None:
    """Build a small evidence folder from scikit-learn's sample photos, scan it and show where to look."""
    from .core.threads import use_threads
    from .demo import run_demo

    dev = _device(device)
    n_threads = use_threads(threads)
    try:
        code = run_demo(directory, dev, overwrite, _stderr(), n_threads)
    except FileExistsError as exc:
        _fatal(f"{exc} exists; pass --overwrite or another folder", ExitCode.USAGE)
    raise typer.Exit(code)


if __name__ == "__main__":  # pragma: no cover
    app()
