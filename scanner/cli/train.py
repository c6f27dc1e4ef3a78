"""``scanner baseline`` and ``scanner train``: the SRM+SVM baseline of one task, and training the
shipped bank or one network."""

from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from ..core.exitcodes import ExitCode
from .app import MANIP_HELP, fatal, pick_device, stderr_console


def task_data(images: Optional[Path], manip: str, strength: Optional[List[float]], seed: int, patches: int, test_patches: int,
              cache: Optional[Path], quiet: bool):
    """The patch data of one task (:func:`scanner.training.patches.build_task`); exit 2 on an
    unknown manipulation or a missing photo folder."""
    from ..processing.manipulations import MANIPULATIONS
    from ..training.patches import build_task
    from ..training.photos import default_pristine_dir

    if manip not in MANIPULATIONS:
        fatal(f"unknown manipulation {manip!r}; choose from {MANIP_HELP}", ExitCode.USAGE)
    root = images or default_pristine_dir()
    if root is None or not Path(root).is_dir():
        fatal("no photo folder: pass --images DIR (default ../shared/data/pristine)", ExitCode.USAGE)
    stderr_console(quiet).print(f"building patches for {manip} from {root}")
    return build_task(root, manip, tuple(strength) if strength else None, patches, test_patches, seed,
                      cache_dir=cache, progress=not quiet, split="make")


def refuse_overwrite(targets: list[Path], overwrite: bool) -> None:
    """Exit 2, before any work, when an output exists and ``overwrite`` was not given."""
    present = [str(t) for t in targets if t.exists()]
    if present and not overwrite:
        fatal(f"{', '.join(present)} exists; pass --overwrite to replace it, or choose another --out", ExitCode.USAGE)


def announce_bank_training(photos: list, manip: list[str] | None, console) -> None:
    """Say what training the bank will do before it starts: every task, whatever --manip keeps,
    and how the photos' cameras were found."""
    from ..training.photos import unlabelled_photos

    unlabelled = unlabelled_photos(photos)
    if unlabelled:
        console.print(f"warning: {len(unlabelled)} of {len(photos)} photos name no camera (no MANIFEST.tsv entry, no EXIF "
                      "make): each of their folders counts as one camera make, so put one camera per folder")
    console.print(f"training the bank on {len(photos)} photos: all 15 tasks of Table I, which the operation head and the "
                  "calibration need" + (f", then keeping the detectors of {', '.join(manip)}" if manip else "")
                  + " (the 145 shared photos take about 40 minutes on 2 cores from an empty cache)")


BASELINE_EPILOG = "Example:\n\n  scanner baseline --manip blur --strength 0.5"
"""Examples under ``scanner baseline --help``."""


def baseline(
    manip: str = typer.Option(..., "--manip", "-m", help=MANIP_HELP),
    strength: Optional[List[float]] = typer.Option(None, help="Strength(s) of the task; default: the three of Table I, mixed."),
    images: Optional[Path] = typer.Option(None, help="Folder of pristine photos (default ../shared/data/pristine)."),
    seed: int = typer.Option(0, help="Seed of the make split and patch sampling."),
    patches_per_image: int = typer.Option(36, help="Training patches per photo (and as many processed)."),
    test_patches_per_image: int = typer.Option(16, help="Held-out positions per test photo."),
    out: Path = typer.Option(Path("models"), help="Folder for the saved SVM (.npz, no pickle)."),
    cache: Optional[Path] = typer.Option(None, help="Patch cache folder (default ~/.cache/scanner)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an SVM of the same name in --out."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or messages on stderr."),
) -> None:
    """SRM descriptor + linear SVM on one task; accuracy on held-out cameras."""
    from ..training.svm import run_baseline

    name = manip if not strength else f"{manip}-{'-'.join(f'{s:g}' for s in strength)}"
    target = out / f"{name}.svm.npz"
    refuse_overwrite([target], overwrite)
    data = task_data(images, manip, strength, seed, patches_per_image, test_patches_per_image, cache, quiet)
    svm, report = run_baseline(data, seed)
    out.mkdir(parents=True, exist_ok=True)
    svm.save(target)
    report["manifest_sha256"] = data.manifest_sha256
    report["svm"] = str(target)
    console = stderr_console(quiet)
    if svm.unconverged:
        console.print(f"note: {svm.unconverged} of the SVM fits (the C search and the final one) stopped at their "
                      "iteration limit; the chosen C's accuracy is as reported")
    console.print(f"wrote {target}: the SVM as plain arrays (scanner.training.svm.LinearSVM.load; scores = "
                  "LinearSVM.decision(srm_features(green patches)), > 0 processed). It is a baseline, not a detector "
                  "that scanner scan reads.")
    typer.echo(json.dumps(report, indent=2))


TRAIN_EPILOG = ("Examples:\n\n  scanner train --split sealed --out weights   retrain every shipped detector (the bank)\n\n"
                "  scanner train --arch recast --manip blur --strength 0.5 --out models   the paper's CNN on one task")
"""Examples under ``scanner train --help``."""


def train(
    manip: Optional[List[str]] = typer.Option(None, "--manip", "-m", help=f"{MANIP_HELP}. bank: the detectors to keep (default all five); recast, bayar: the one task to train (required)."),
    arch: str = typer.Option("bank", help="bank (what ships: SRM submodel bank + linear heads), recast (the paper's CNN) or bayar (Bayar & Stamm 2016)."),
    images: Optional[Path] = typer.Option(None, help="Folder of pristine photos (default ../shared/data/pristine)."),
    out: Path = typer.Option(Path("models"), help="Output folder (bank: bank.json + bank.safetensors; recast/bayar: NAME.json + NAME.safetensors)."),
    seed: int = typer.Option(0, help="Seed of the make split (bank: unless --split) and of the folds, solvers and patch sampling; recast, bayar train on the split's training makes, stop early and set the threshold on its validation makes, and report on its test makes."),
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
    relaxation: str = typer.Option("soft", help="recast: soft (the paper's soft-max), straight (exact hard-max histograms with a straight-through gradient, every position, about 20x faster than soft on a CPU) or boundary (the same histograms with the soft-max's gradient at the level boundaries)."),
    minutes: Optional[float] = typer.Option(None, min=0.1, help="recast, bayar: stop training after this many minutes."),
    patches_per_image: int = typer.Option(36, help="recast, bayar: training patches per photo (and as many processed)."),
    test_patches_per_image: int = typer.Option(16, help="recast, bayar: held-out positions per test photo."),
    device: str = typer.Option("auto", help="recast, bayar: auto, cpu or cuda (the bank runs on the CPU)."),
    name: Optional[str] = typer.Option(None, help="recast, bayar: output name (default: the manipulation, which `scanner scan --weights OUT` loads; the card records the architecture and strengths)."),
    resume: bool = typer.Option(False, help="recast, bayar: continue from the last epoch checkpoint."),
    cache: Optional[Path] = typer.Option(None, help="Descriptor and patch cache folder (default ~/.cache/scanner)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace the detectors of the same name in --out (checked before training)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress or messages on stderr."),
) -> None:
    """Train detectors: by default the shipped bank (all five detectors, thresholds and image rule);
    --arch recast or bayar trains one network for one task."""
    from ..processing.manipulations import MANIPULATIONS

    unknown = [m for m in manip or [] if m not in MANIPULATIONS]
    if unknown:
        fatal(f"unknown manipulation {', '.join(unknown)}; choose from {MANIP_HELP}", ExitCode.USAGE)
    if arch == "bank":
        from ..families.bank import save_bank
        from ..training.bank import train_bank
        from ..training.photos import check_split, default_pristine_dir, list_photos

        root = images or default_pristine_dir()
        if root is None or not Path(root).is_dir():
            fatal("no photo folder: pass --images DIR (default ../shared/data/pristine)", ExitCode.USAGE)
        console = stderr_console(quiet)
        try:
            check_split(split if split is not None else str(seed))
        except ValueError as exc:
            fatal(f"--split: {exc}", ExitCode.USAGE)
        refuse_overwrite([out / "bank.json", out / "bank.safetensors"], overwrite)
        photos = list_photos(Path(root))
        announce_bank_training(photos, manip, console)
        try:
            bank = train_bank(Path(root), seed, folds, stride, cache=cache, progress=None if quiet else console.print,
                              split=split, photos=photos)
        except ValueError as exc:
            fatal(str(exc), ExitCode.USAGE)
        kept = bank.select(manip) if manip else bank
        card = save_bank(kept, out)
        console.print(f"wrote {card} and {card.with_suffix('.safetensors')}; scan with it: scanner scan --weights {out} PATH")
        typer.echo(json.dumps({"card": str(card), "split": kept.trained_on.name,
                               "detectors": {n: kept.image_rule(n).to_dict() for n in kept.names}}, indent=2))
        return
    from ..training.networks import RELAXATIONS, TrainConfig, train_detector

    if arch not in ("recast", "bayar"):
        fatal("--arch must be bank, recast or bayar", ExitCode.USAGE)
    if not manip or len(manip) != 1:
        fatal(f"--arch {arch} trains one task: give exactly one --manip", ExitCode.USAGE)
    if positions is not None and arch != "recast":
        fatal("--positions is for --arch recast", ExitCode.USAGE)
    if relaxation not in RELAXATIONS or (relaxation != "soft" and arch != "recast"):
        fatal(f"--relaxation is {', '.join(RELAXATIONS)}, for --arch recast", ExitCode.USAGE)
    if positions is not None and relaxation != "soft":
        fatal(f"--positions samples soft-max histograms; --relaxation {relaxation} uses every position", ExitCode.USAGE)
    dev = pick_device(device)
    data = task_data(images, manip[0], strength, seed, patches_per_image, test_patches_per_image, cache, quiet)
    cfg = TrainConfig.for_arch(arch, epochs=epochs, lr=lr, batch_size=batch_size, max_steps_per_epoch=max_steps,
                               head_init=head_init, seed=seed, positions=positions, relaxation=relaxation, max_minutes=minutes)
    name = name or manip[0]  # what `scanner scan --weights OUT` looks for; the card records arch and strengths
    refuse_overwrite([out / f"{name}.json", out / f"{name}.safetensors"], overwrite or resume)
    try:
        card = train_detector(data, cfg, dev, out, name, checkpoint_dir=out / "checkpoints", resume=resume, progress=not quiet)
    except KeyboardInterrupt:
        fatal("interrupted; the last completed epoch is kept in the checkpoint (rerun with --resume)", ExitCode.USAGE)
    stderr_console(quiet).print(f"wrote {out / (name + '.safetensors')} and {out / (name + '.json')}")
    typer.echo(json.dumps({"name": name, "accuracy": card["accuracy"], "threshold": card["threshold"]}, indent=2))
