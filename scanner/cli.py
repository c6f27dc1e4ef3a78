"""Command-line interface: a thin Typer layer over :mod:`scanner.scan`, :mod:`scanner.train`
and friends. Heavy modules (torch) are imported inside the commands, so ``--help`` and
``--version`` stay fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .exitcodes import ExitCode


EXIT_CODES_HELP = (
    "Exit codes: 0 nothing flagged; 1 evidence of processing found in at least one image; "
    "2 usage error (including no inputs found); 3 nothing flagged but some inputs were unreadable or skipped; "
    "4 fatal (weights missing or corrupt, device asked for but absent); 130 interrupted (Ctrl-C). "
    "--exit-zero always exits 0 after a completed scan."
)

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
    from rich.console import Console

    return Console(stderr=True, quiet=quiet)


def _fatal(message: str, code: ExitCode = ExitCode.FATAL) -> None:
    _stderr().print(f"[bold red]error:[/] {message}", highlight=False)
    raise typer.Exit(int(code))


def _device(name: str):
    from .train import resolve_device

    try:
        return resolve_device(name)
    except RuntimeError as exc:
        _fatal(str(exc))


MANIP_HELP = "median, blur, noise, resize or jpeg"


@app.command(epilog=EXIT_CODES_HELP)
def scan(
    paths: List[Path] = typer.Argument(..., help="Files and folders to scan (folders recursively)."),
    manip: Optional[List[str]] = typer.Option(None, "--manip", "-m", help=f"Detector to run ({MANIP_HELP}); repeat for several. Default: all five."),
    stride: int = typer.Option(32, min=1, max=128, help="Heat-map step in pixels between 128x128 windows."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    threshold: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="Window probability threshold; default: each model card's (1% false positives)."),
    json_out: bool = typer.Option(False, "--json", help="Write one JSON document to stdout (and nothing else)."),
    jsonl: bool = typer.Option(False, "--jsonl", help="Stream one JSON record per line to stdout, then a summary line."),
    heatmaps: Optional[Path] = typer.Option(None, "--heatmaps", help="Write a PNG overlay and the raw score map (.npy) per image and detector here."),
    overwrite: bool = typer.Option(False, help="Replace existing heat-map files."),
    glob: Optional[str] = typer.Option(None, "--glob", help="Only scan files in folders whose name matches this pattern, e.g. '*.jpg'."),
    hidden: bool = typer.Option(False, "--hidden", help="Include hidden files and folders."),
    recursive: bool = typer.Option(True, "--recursive/--no-recursive", help="Descend into sub-folders."),
    max_pixels: int = typer.Option(100_000_000, help="Refuse images with more pixels than this."),
    weights: Optional[Path] = typer.Option(None, help="Folder of detectors (model cards + weights); default: the shipped ones."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 whatever was found (reporting-only runs)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or messages on stderr."),
) -> None:
    """Scan images for traces of processing: per-image verdicts, regions and heat maps."""
    if json_out and jsonl:
        _fatal("--json and --jsonl are exclusive", ExitCode.USAGE)
    from .manipulations import MANIPULATIONS

    names = manip or list(MANIPULATIONS)
    unknown = [m for m in names if m not in MANIPULATIONS]
    if unknown:
        _fatal(f"unknown detector {', '.join(unknown)}; choose from {MANIP_HELP}", ExitCode.USAGE)
    from .scan import ScanOptions, collect_inputs

    files, missing = collect_inputs(paths, recursive, hidden, glob)
    if not files:
        _fatal("no inputs found" + (f" (missing: {', '.join(missing)})" if missing else ""), ExitCode.USAGE)

    from .detectors import WeightsError, load_shipped
    from .report import Report

    dev = _device(device)
    try:
        detectors = load_shipped(names, dev, weights)
    except WeightsError as exc:
        _fatal(str(exc))
    options = ScanOptions(stride=stride, device=dev, threshold=threshold, heatmaps=heatmaps, overwrite=overwrite, max_pixels=max_pixels)
    report = Report(detectors, json_mode="json" if json_out else "jsonl" if jsonl else None, console=_stderr(quiet))
    try:
        report.run(paths, options, recursive, hidden, glob, total=len(files) + len(missing))
    except KeyboardInterrupt:
        _stderr().print(f"interrupted after {len(report.records)} files")
        raise typer.Exit(130)
    code = report.exit_code()
    raise typer.Exit(0 if exit_zero else int(code))


def _task(images: Optional[Path], manip: str, strength: Optional[List[float]], seed: int, patches: int, test_patches: int,
          cache: Optional[Path], quiet: bool):
    from .data import build_task, default_pristine_dir
    from .manipulations import MANIPULATIONS

    if manip not in MANIPULATIONS:
        _fatal(f"unknown manipulation {manip!r}; choose from {MANIP_HELP}", ExitCode.USAGE)
    root = images or default_pristine_dir()
    if root is None or not Path(root).is_dir():
        _fatal("no photo folder: pass --images DIR (default ../shared/data/pristine)", ExitCode.USAGE)
    _stderr(quiet).print(f"building patches for {manip} from {root}")
    return build_task(root, manip, tuple(strength) if strength else None, patches, test_patches, seed,
                      cache_dir=cache, progress=not quiet)


@app.command()
def baseline(
    manip: str = typer.Option(..., "--manip", "-m", help=MANIP_HELP),
    strength: Optional[List[float]] = typer.Option(None, help="Strength(s) of the task; default: the three of Table I, mixed."),
    images: Optional[Path] = typer.Option(None, help="Folder of pristine photos (default ../shared/data/pristine)."),
    seed: int = typer.Option(0, help="Seed of the camera split and patch sampling."),
    patches_per_image: int = typer.Option(36, help="Training patches per photo (and as many processed)."),
    test_patches_per_image: int = typer.Option(16, help="Held-out positions per test photo."),
    out: Path = typer.Option(Path("models"), help="Folder for the saved SVM (.npz, no pickle)."),
    cache: Optional[Path] = typer.Option(None, help="Patch cache folder (default ~/.cache/scanner)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """SRM descriptor + linear SVM on one task; accuracy on held-out cameras."""
    from .train import run_baseline

    data = _task(images, manip, strength, seed, patches_per_image, test_patches_per_image, cache, quiet)
    svm, report = run_baseline(data, seed)
    out.mkdir(parents=True, exist_ok=True)
    name = manip if not strength else f"{manip}-{'-'.join(f'{s:g}' for s in strength)}"
    svm.save(out / f"{name}.svm.npz")
    report["manifest_sha256"] = data.manifest_sha256
    typer.echo(json.dumps(report, indent=2))


@app.command()
def train(
    manip: str = typer.Option(..., "--manip", "-m", help=MANIP_HELP),
    strength: Optional[List[float]] = typer.Option(None, help="Strength(s) to train on; default: the three of Table I, mixed."),
    images: Optional[Path] = typer.Option(None, help="Folder of pristine photos (default ../shared/data/pristine)."),
    arch: str = typer.Option("recast", help="recast (the paper's CNN) or bayar (Bayar & Stamm 2016)."),
    epochs: Optional[int] = typer.Option(None, help="Epochs (default 15 recast, 60 bayar)."),
    lr: Optional[float] = typer.Option(None, help="Learning rate (default 1e-6 recast, 1e-3 bayar)."),
    batch_size: Optional[int] = typer.Option(None, help="Batch size (default 36 recast, 64 bayar)."),
    max_steps: Optional[int] = typer.Option(None, help="Cap on optimiser steps per epoch (reduced CPU schedules)."),
    head_init: str = typer.Option("svm", help="Recast FC init: svm (SVM on exact SRM features) or svm-soft (SVM on the net's soft-max features)."),
    patches_per_image: int = typer.Option(36, help="Training patches per photo (and as many processed)."),
    test_patches_per_image: int = typer.Option(16, help="Held-out positions per test photo."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    seed: int = typer.Option(0),
    out: Path = typer.Option(Path("models"), help="Output folder for NAME.pt, NAME.json and NAME.svm.npz."),
    name: Optional[str] = typer.Option(None, help="Output name (default: the manipulation, plus strengths if given)."),
    resume: bool = typer.Option(False, help="Continue from the last epoch checkpoint."),
    cache: Optional[Path] = typer.Option(None, help="Patch cache folder (default ~/.cache/scanner)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Fine-tune a detector (recast CNN initialised from SRM + SVM, or Bayar2016); writes weights and a model card."""
    from .train import TrainConfig, train_detector

    if arch not in ("recast", "bayar"):
        _fatal("--arch must be recast or bayar", ExitCode.USAGE)
    dev = _device(device)
    data = _task(images, manip, strength, seed, patches_per_image, test_patches_per_image, cache, quiet)
    cfg = TrainConfig.for_arch(arch, epochs=epochs, lr=lr, batch_size=batch_size, max_steps_per_epoch=max_steps,
                                 head_init=head_init, seed=seed)
    name = name or (manip if not strength else f"{manip}-{'-'.join(f'{s:g}' for s in strength)}") + ("-bayar" if arch == "bayar" else "")
    try:
        card = train_detector(data, cfg, dev, out, name, checkpoint_dir=out / "checkpoints", resume=resume, progress=not quiet)
    except KeyboardInterrupt:
        _fatal("interrupted; the last completed epoch is kept in the checkpoint (rerun with --resume)", ExitCode.USAGE)
    _stderr(quiet).print(f"wrote {out / (name + '.pt')} and {out / (name + '.json')}")
    typer.echo(json.dumps({"name": name, "accuracy": card["accuracy"], "threshold": card["threshold"]}, indent=2))


@app.command()
def evaluate(
    localization: bool = typer.Option(False, "--localization", help="Pixel-level localisation of forgeries: CNN against SRM+SVM."),
    table2: bool = typer.Option(False, "--table2", help="The paper's Table II: SRM+SVM vs recast CNN vs Bayar2016 on 15 tasks."),
    scale: str = typer.Option("reduced", help="--table2 protocol: full (the paper's small set; needs a GPU), reduced (CPU) or tiny."),
    task: Optional[List[str]] = typer.Option(None, help="--table2 tasks as MANIP:STRENGTH (repeat); default all 15."),
    cache: Optional[Path] = typer.Option(None, help="Patch cache folder (default ~/.cache/scanner)."),
    images: Optional[Path] = typer.Option(None, help="Folder of pristine photos (default ../shared/data/pristine)."),
    n_images: int = typer.Option(8, help="Held-out photos (one forgery per photo and case)."),
    stride: int = typer.Option(16, help="Heat-map stride in pixels."),
    out: Optional[Path] = typer.Option(None, help="Markdown report (default docs/results-localization.md or docs/results-table2.md)."),
    weights: Optional[Path] = typer.Option(None, help="Folder of detectors; default: the shipped ones."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    seed: int = typer.Option(0, help="Seed of the camera split (must match the detectors') and of the forgeries."),
) -> None:
    """Benchmarks: --localization (docs/results-localization.md) or --table2 (docs/results-table2.md)."""
    if localization == table2:
        _fatal("choose one evaluation: --localization or --table2", ExitCode.USAGE)
    from .data import default_pristine_dir

    root = images or default_pristine_dir()
    if root is None:
        _fatal("no photo folder: pass --images DIR (default ../shared/data/pristine)", ExitCode.USAGE)
    dev = _device(device)
    console = _stderr()
    if table2:
        from .evaluate import Table2Scale, run_table2

        try:
            protocol = Table2Scale.named(scale)
            tasks = [(t.split(":")[0], float(t.split(":")[1])) for t in task] if task else None
        except (ValueError, IndexError) as exc:
            _fatal(f"{exc}; tasks are MANIP:STRENGTH, e.g. blur:0.5", ExitCode.USAGE)
        out = out or Path("docs/results-table2.md")
        command = f"scanner evaluate --table2 --scale {scale}" + "".join(f" --task {t}" for t in task or []) + (f" --out {out}" if out != Path("docs/results-table2.md") else "")
        run_table2(Path(root), protocol, out, out.with_suffix(".state.json"), dev, cache, tasks, command, seed,
                   progress=lambda key, r: console.print(f"{key}: SVM {r['svm']['accuracy']:.2f}, CNN {r['recast']['accuracy']:.2f}, "
                                                         f"Bayar {r['bayar']['accuracy']:.2f}"))
        console.print(f"wrote {out}")
        return
    from .detectors import WeightsError, load_shipped
    from .evaluate import run_localisation

    try:
        detectors = load_shipped(device=dev, directory=weights)
    except WeightsError as exc:
        _fatal(str(exc))
    out = out or Path("docs/results-localization.md")
    command = "scanner evaluate --localization" + (f" --n-images {n_images}" if n_images != 8 else "") + (f" --stride {stride}" if stride != 16 else "")
    run_localisation(Path(root), detectors, out, n_images, stride, str(dev), seed, command,
                     progress=lambda label, m: console.print(f"{label}: CNN F1 {m['cnn']['best_f1']:.3f}, SVM F1 {m['svm']['best_f1']:.3f}"))
    console.print(f"wrote {out}")


@app.command()
def demo(
    directory: Path = typer.Argument(Path("scanner-demo"), help="Folder to create the evidence and results in."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    overwrite: bool = typer.Option(False, help="Rebuild the folder if it exists."),
) -> None:
    """Build a small evidence folder from scikit-learn's sample photos, scan it and show where to look."""
    from .demo import run_demo

    dev = _device(device)
    try:
        code = run_demo(directory, dev, overwrite, _stderr())
    except FileExistsError as exc:
        _fatal(f"{exc} exists; pass --overwrite or another folder", ExitCode.USAGE)
    raise typer.Exit(code)


if __name__ == "__main__":  # pragma: no cover
    app()
