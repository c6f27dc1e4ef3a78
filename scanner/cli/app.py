"""The Typer application and what every command shares: conventional help, the version flag,
messages on stderr, fatal errors with their exit code, the device option."""

from __future__ import annotations

import typer
from typer.core import TyperCommand, TyperGroup

from .. import __version__
from ..core.exitcodes import ExitCode

EXIT_CODES_HELP = (
    "Exit codes: 0 nothing flagged; 1 evidence of processing found in at least one image; "
    "2 usage error (bad option, no inputs found, unusable output folder); 3 nothing flagged but some inputs were "
    "unreadable or skipped; 4 fatal (weights missing or corrupt, CUDA asked for but absent); 130 interrupted (Ctrl-C). "
    "--exit-zero exits 0 after a completed scan (the JSON summary still gives the outcome_code)."
)


class PlainFlags:
    """Help in which flags show no value placeholder (typer 0.29 prints ``--json <bool>``)."""

    def get_params(self, ctx) -> list:
        params = super().get_params(ctx)
        for param in params:
            if param.param_type_name == "option" and getattr(param, "is_flag", False):
                param.metavar = ""
        return params


class Group(PlainFlags, TyperGroup):
    """The application's own help (``scanner --help``): ``--version`` and ``--help`` as plain flags."""


class Command(PlainFlags, TyperCommand):
    """Typer's command with conventional help: plain flags (:class:`PlainFlags`), and the usage
    line names arguments as ``PATH...``, not ``{paths}...``."""

    def collect_usage_pieces(self, ctx) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name == "argument":
                name = (param.metavar or param.name or "").upper()
                pieces.append(name + ("..." if param.nargs != 1 and not name.endswith("...") else ""))
        return pieces


app = typer.Typer(
    name="scanner",
    cls=Group,
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


def stderr_console(quiet: bool = False):
    """Messages and progress: stderr, never hard-wrapped (a log keeps each message on one line)."""
    from rich.console import Console

    return Console(stderr=True, quiet=quiet, soft_wrap=True)


def fatal(message: str, code: ExitCode = ExitCode.FATAL) -> None:
    from rich.markup import escape

    stderr_console().print(f"[bold red]error:[/] {escape(message)}", highlight=False)  # paths may hold [brackets]
    raise typer.Exit(int(code))


DEVICES = "auto, cpu, cuda or cuda:N"


def pick_device(name: str):
    """The torch device for ``--device``: a name outside :data:`DEVICES` is a usage error
    (exit 2); CUDA asked for but absent is fatal (exit 4)."""
    import re

    if name not in ("auto", "cpu", "cuda") and not re.fullmatch(r"cuda:\d+", name):
        fatal(f"--device {name!r} is not a device; use {DEVICES}", ExitCode.USAGE)
    from ..core.device import resolve_device

    try:
        return resolve_device(name)
    except RuntimeError as exc:
        fatal(str(exc))


MANIP_HELP = "median, blur, noise, resize or jpeg"
