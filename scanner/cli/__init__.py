"""Command-line interface: a thin Typer layer over the library, one module per command. Heavy
modules (torch, scikit-learn) are imported inside the commands, so that ``scanner --help`` and
``--version`` stay fast."""

from .app import Command, app
from .demo import DEMO_EPILOG, demo
from .evaluate import EVALUATE_EPILOG, evaluate
from .scan import SCAN_EPILOG, scan
from .train import BASELINE_EPILOG, TRAIN_EPILOG, baseline, train

for _command, _epilog in ((scan, SCAN_EPILOG), (baseline, BASELINE_EPILOG), (train, TRAIN_EPILOG),
                          (evaluate, EVALUATE_EPILOG), (demo, DEMO_EPILOG)):
    app.command(cls=Command, epilog=_epilog)(_command)

__all__ = ["app"]
