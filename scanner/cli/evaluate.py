"""``scanner evaluate``: forgery localisation and the paper's Table II, as Markdown reports."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from ..core.exitcodes import ExitCode
from .app import fatal, pick_device, stderr_console

EVALUATION_FOLDER = Path("scanner-evaluation")
"""Default output folder of ``scanner evaluate``, under the current folder."""


EVALUATE_EPILOG = "Examples:\n\n  scanner evaluate --localization\n\n  scanner evaluate --table2 --scale tiny --task blur:0.5"
"""Examples under ``scanner evaluate --help``."""


def evaluate(
    localization: bool = typer.Option(False, "--localization", help="Pixel-level localisation of forgeries, large and small: shipped detectors (fused and 128-pixel maps) against SRM+SVM."),
    table2: bool = typer.Option(False, "--table2", help="The paper's Table II: SRM+SVM vs recast CNN vs Bayar2016 on 15 tasks."),
    scale: str = typer.Option("small", help="--table2 protocol: small (the paper's small training set: 15 recast, 60 Bayar epochs; hours per task on a CPU), reduced or tiny."),
    recast_epochs: Optional[int] = typer.Option(None, min=1, help="--table2: recast CNN epochs instead of the scale's."),
    bayar_epochs: Optional[int] = typer.Option(None, min=1, help="--table2: Bayar2016 epochs instead of the scale's (the report says which)."),
    positions: Optional[int] = typer.Option(None, min=1, help="--table2: the recast CNN's training histograms average this many random positions of a patch, not all ~15600 (an unbiased estimate; 256 makes the paper's schedule fit a CPU)."),
    bayar_minutes: Optional[float] = typer.Option(None, min=0.1, help="--table2: stop Bayar2016's training after this many minutes per task (a time budget)."),
    recast_lr: Optional[float] = typer.Option(None, min=0.0, help="--table2: the recast CNN's Adam learning rate instead of the paper's 1e-6 (the report says so)."),
    relaxation: str = typer.Option("soft", help="--table2: the recast CNN's relaxation, soft (the paper's soft-max), straight (exact histograms, straight-through gradient, every position: the paper's schedule in minutes per task on a CPU) or boundary (exact histograms, the soft-max's gradient at the level boundaries)."),
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
    seed: int = typer.Option(0, help="Seed of the forgeries (--localization; the held-out makes are those of the split the detectors were trained on, from their card) and of the Table II split."),
) -> None:
    """Benchmarks: --localization (forgery localisation, shipped detectors against SRM+SVM) or
    --table2 (the paper's Table II); results in Markdown, figures beside them."""
    if localization == table2:
        fatal("choose one evaluation: --localization or --table2", ExitCode.USAGE)
    from ..training.photos import default_pristine_dir

    root = images or default_pristine_dir()
    if root is None:
        fatal("no photo folder: pass --images DIR (default ../shared/data/pristine)", ExitCode.USAGE)
    dev = pick_device(device)
    console = stderr_console()
    if table2:
        from ..evaluation.table2 import TABLE2_METHODS, Table2Scale, run_table2

        try:
            protocol = Table2Scale.named(scale, recast_epochs, bayar_epochs, positions, bayar_minutes, relaxation, recast_lr)
            tasks = [(t.split(":")[0], float(t.split(":")[1])) for t in task] if task else None
        except (ValueError, IndexError) as exc:
            fatal(f"{exc}; tasks are MANIP:STRENGTH, e.g. blur:0.5", ExitCode.USAGE)
        unknown = set(redo or []) - set(TABLE2_METHODS)
        if unknown:
            fatal(f"--redo takes {', '.join(TABLE2_METHODS)}, not {', '.join(sorted(unknown))}", ExitCode.USAGE)
        out = out or EVALUATION_FOLDER / "table2.md"
        command = (f"scanner evaluate --table2 --scale {scale}" + "".join(f" --task {t}" for t in task or [])
                   + (f" --recast-epochs {recast_epochs}" if recast_epochs else "") + (f" --bayar-epochs {bayar_epochs}" if bayar_epochs else "")
                   + (f" --positions {positions}" if positions else "") + (f" --bayar-minutes {bayar_minutes:g}" if bayar_minutes else "")
                   + (f" --relaxation {relaxation}" if relaxation != "soft" else "") + (f" --recast-lr {recast_lr:g}" if recast_lr else "")
                   + "".join(f" --redo {m}" for m in redo or []) + (f" --seed {seed}" if seed else "")
                   + (f" --device {device}" if device != "auto" else "") + (f" --state {state}" if state else "") + f" --out {out}")
        run_table2(Path(root), protocol, out, state or out.with_suffix(".state.json"), dev, cache, tasks, command, seed,
                   redo=tuple(redo or ()),
                   progress=lambda key, r: console.print(f"{key}: SVM {r['svm']['accuracy']:.2f}, CNN {r['recast']['accuracy']:.2f}, "
                                                         f"Bayar {r['bayar']['accuracy']:.2f}, shipped {r['shipped']['accuracy']:.2f}"))
        console.print(f"wrote {out}")
        return
    from ..evaluation.localisation import run_localisation
    from ..families.cards import WeightsError
    from ..families.registry import load_shipped

    try:
        detectors = load_shipped(device=dev, directory=weights)
    except WeightsError as exc:
        fatal(str(exc))
    out = out or EVALUATION_FOLDER / "localization.md"
    command = ("scanner evaluate --localization" + (f" --weights {weights}" if weights else "") + (f" --seed {seed}" if seed else "")
               + (f" --n-images {n_images}" if n_images != 8 else "") + (f" --stride {stride}" if stride != 16 else "") + f" --out {out}")
    try:
        run_localisation(Path(root), detectors, out, n_images, stride, str(dev), seed, command,
                         progress=lambda label, m: console.print(f"{label}: best F1 fused {m['fused']['best_f1']:.3f}, 128 "
                                                               f"{m['128']['best_f1']:.3f}, SVM fused {m['svm fused']['best_f1']:.3f}, "
                                                               f"any {m['any fused']['best_f1']:.3f}"))
    except ValueError as exc:
        fatal(str(exc), ExitCode.USAGE)
    console.print(f"wrote {out}")
