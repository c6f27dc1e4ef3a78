"""Progress on stderr: a live bar in a terminal, plain lines every few seconds elsewhere
(CI logs and files get readable lines, never carriage-return bars)."""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

T = TypeVar("T")

EVERY = 5.0
"""Seconds between plain progress lines."""


def progress(items: Iterable[T], total: int | None = None, desc: str = "", unit: str = "it",
             enabled: bool = True) -> Iterator[T]:
    """Iterate over ``items`` while reporting progress on stderr (nothing when not ``enabled``)."""
    if not enabled:
        yield from items
        return
    if sys.stderr.isatty():
        yield from tqdm(items, total=total, desc=desc, unit=unit, leave=False)
        return
    started = last = time.monotonic()
    done = 0
    of = f"/{total}" if total is not None else ""
    for item in items:
        yield item
        done += 1
        if time.monotonic() - last >= EVERY:
            last = time.monotonic()
            print(f"{desc}: {done}{of} {unit}, {last - started:.0f} s", file=sys.stderr, flush=True)
    print(f"{desc}: {done}{of} {unit} done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
