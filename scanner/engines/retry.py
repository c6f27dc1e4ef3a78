"""What every engine does when a worker dies scoring some files (out of memory, a crash in a
decoder): the files it held are scored again one at a time, so that one bad file cannot fail its
neighbours, and a file whose worker dies when it is scored alone becomes an error record
(``worker_failed``); the scan goes on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from ..scoring.records import ImageRecord

Item = TypeVar("Item")


def retry_alone(batch: Sequence[Item]) -> list[list[Item]]:
    """The batches to score again after the worker scoring ``batch`` died: each file alone, or
    none when the file was already alone (it then gets :func:`worker_failed`)."""
    return [[item] for item in batch] if len(batch) > 1 else []


def worker_failed(path: str, cause: str) -> ImageRecord:
    """The error record of a file whose worker died when it was scored alone; ``cause`` names
    what ended the worker, as the engine saw it."""
    return ImageRecord(path=path, status="error", error={
        "code": "worker_failed", "message": f"{path}: the worker scoring it died, also when it was scored alone ({cause})"})
