"""``scanner demo``: a small evidence folder from scikit-learn's sample photos, scanned."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..core.exitcodes import ExitCode
from .app import fatal, pick_device, stderr_console

DEMO_EPILOG = "Example:\n\n  scanner demo ./my-demo"
"""Examples under ``scanner demo --help``."""


def demo(
    directory: Path = typer.Argument(Path("scanner-demo"), help="Folder to create the evidence and results in."),
    device: str = typer.Option("auto", help="auto, cpu or cuda."),
    overwrite: bool = typer.Option(False, help="Rebuild the folder if it exists."),
    threads: Optional[int] = typer.Option(None, min=1, help="CPU threads; default: every core this process may use."),
) -> None:
    """Build a small evidence folder from scikit-learn's sample photos, scan it and show where to look."""
    from ..core.threads import use_threads
    from ..demo import run_demo

    dev = pick_device(device)
    n_threads = use_threads(threads)
    try:
        code = run_demo(directory, dev, overwrite, stderr_console(), n_threads)
    except FileExistsError as exc:
        fatal(f"{exc} exists; pass --overwrite or another folder", ExitCode.USAGE)
    raise typer.Exit(code)
