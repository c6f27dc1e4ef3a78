"""Finding the files to scan: files and folders expanded into a sorted list, and the output stem of each."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass
class InputFile:
    """A file to scan and the root it was found under (for mirrored output paths)."""

    path: Path
    root: Path


def collect_inputs(paths: list[str | Path], recursive: bool = True, include_hidden: bool = False,
                   pattern: str | None = None) -> tuple[list[InputFile], list[str]]:
    """Expand files and folders into a sorted, de-duplicated list of files.

    Folders are walked recursively (``recursive``) without following symbolic links to
    folders, so link loops cannot recur; hidden entries (name starting with '.') are
    skipped unless ``include_hidden``; ``pattern`` (fnmatch on the file name) filters
    files found in folders. Returns (files, problems): missing paths appear in problems.
    """
    found: dict[Path, InputFile] = {}
    problems = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            walker = os.walk(p, followlinks=False) if recursive else [(str(p), [], [e.name for e in os.scandir(p) if e.is_file()])]
            for dirpath, dirnames, filenames in walker:
                dirnames[:] = sorted(d for d in dirnames if include_hidden or not d.startswith("."))
                for name in sorted(filenames):
                    if (not include_hidden and name.startswith(".")) or (pattern and not fnmatch.fnmatch(name, pattern)):
                        continue
                    f = Path(dirpath) / name
                    if f.is_dir():
                        continue
                    found.setdefault(f.absolute(), InputFile(f, p))
        elif p.exists() or p.is_symlink():
            found.setdefault(p.absolute(), InputFile(p, p.parent))
        else:
            problems.append(str(p))
    files = sorted(found.values(), key=lambda f: str(f.path))
    return files, problems


def output_stem(files: list[InputFile]) -> dict[Path, Path]:
    """Relative output stem for each file: its path relative to the common folder of all
    inputs, so two files with the same name in different folders never share outputs."""
    absolute = [f.path.absolute() for f in files]
    if not absolute:
        return {}
    common = Path(os.path.commonpath([str(a.parent) for a in absolute]))
    return {f.path: a.relative_to(common) for f, a in zip(files, absolute)}
