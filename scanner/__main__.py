"""``python -m scanner`` runs the command line."""

from .cli import app

app(prog_name="scanner")
