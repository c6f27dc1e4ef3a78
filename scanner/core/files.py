"""Files written whole or not at all, and file digests: the one copy of each for every stage."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable


def write_output(path: Path, overwrite: bool, write: Callable[[Path], object]) -> None:
    """Write a file through ``write(partial)``, then rename the partial file into place, so that a
    process stopped mid-write (Ctrl-C, a killed worker) never leaves a truncated file under
    ``path``; FileExistsError if ``path`` exists and not ``overwrite``. The partial file keeps
    ``path``'s suffix (``np.save`` and ``np.savez`` keep the name they are given)."""
    if path.exists() and not overwrite:
        raise FileExistsError(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.stem}.partial-{os.getpid()}{path.suffix}")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read a MiB at a time."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
