"""The local engine: files scored one after another, or by worker processes, through the
:class:`Scorer` that every engine calls."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import wait
from pathlib import Path
from typing import Iterator

from ..core.constants import PATCH
from ..core.threads import use_threads
from ..families.protocol import DetectorSet
from ..families.registry import load_shipped
from ..features.double_quantization import jpeg_history
from ..inputs.discovery import collect_inputs, output_stem
from ..inputs.images import ImageError, display_rgb, green_of, open_image, read_bytes, sha256_hex, stored_pixels
from ..inputs.jpeg_file import header_quality
from ..scoring.analysis import analyze
from ..scoring.options import ScanOptions
from ..scoring.records import ImageRecord, missing_record
from ..writers.figures import write_heatmaps
from .retry import retry_alone, worker_failed


class Scorer:
    """Turns files into :class:`ImageRecord` s: the one code path of every engine (the local
    ``scanner scan``, Ray workers, any batch framework). Build it once (detectors loaded once),
    then call it on batches of (path, bytes) or on paths.

    >>> scorer = Scorer.shipped()
    >>> records = scorer([("a.jpg", open("a.jpg", "rb").read())])
    """

    def __init__(self, detectors: DetectorSet, options: ScanOptions | None = None) -> None:
        self.detectors = detectors
        self.options = options or ScanOptions()
        self.colour = detectors.colour_detectors()
        self.colour_only = detectors.colour_detectors(only=True)

    @classmethod
    def shipped(cls, manips: list[str] | None = None, options: ScanOptions | None = None, weights: str | Path | None = None) -> "Scorer":
        """A scorer of the shipped detectors (or those in ``weights``), restricted to ``manips``."""
        options = options or ScanOptions()
        return cls(load_shipped(manips, options.device, weights), options)

    def __call__(self, batch: list[tuple[str, bytes]]) -> list[ImageRecord]:
        """Records of a batch of (path, the file's bytes), in order."""
        return [self.score(path, data) for path, data in batch]

    def score(self, path: str, data: bytes, stem: Path | None = None) -> ImageRecord:
        """Analyse one file's bytes; every failure becomes a record with ``status`` error or
        skipped. Heat maps (when the options ask for them) go under ``stem`` (default: the name)."""
        record = ImageRecord(path=path, sha256=sha256_hex(data))
        options = self.options
        try:
            image, info = open_image(data, path, options.max_pixels)
            pixels = stored_pixels(image, info)
        except ImageError as exc:
            record.status, record.error = "error", {"code": exc.code, "message": exc.message}
            return record
        record.input = info.to_dict()
        height, width = pixels.shape[:2]
        if min(height, width) < PATCH:
            record.status = "skipped"
            record.error = {"code": "too_small", "message": f"{path}: {width}x{height} is smaller than one "
                                                            f"{PATCH}x{PATCH} analysis window"}
            return record
        if pixels.ndim == 2 and self.colour:
            verb = "detectors read colour residuals and see" if len(self.colour) > 1 else "detector reads colour residuals and sees"
            record.warnings.append(f"single-channel image: the {_listed(self.colour)} {verb} less here than in a colour photo")
        with ThreadPoolExecutor(max_workers=1) as history:  # the JPEG history runs beside the detectors
            reading = history.submit(jpeg_history, data) if info.stored_as_jpeg else None
            analysis = analyze(pixels, self.detectors, options, stored_as_jpeg=info.stored_as_jpeg,
                               jpeg_quality=header_quality(image) if info.stored_as_jpeg else None)
            try:
                record.jpeg = reading.result() if reading else None
            except ValueError as exc:
                record.warnings.append(f"JPEG history not read: {exc}")
        record.detections, record.flagged, record.naming = analysis.detections, analysis.flagged, analysis.naming
        lossless_flags = [d.detector for d in analysis.detections.values() if d.flagged and d.detector in self.colour_only]
        if lossless_flags and pixels.ndim == 3 and not info.stored_as_jpeg:
            record.warnings.append(
                f"{info.format or 'non-JPEG'} file flagged by the {_listed(lossless_flags)} detector, which can flag on colour "
                f"residuals alone, learnt on camera JPEGs, whose colour is smooth: in a file never stored as JPEG, film grain or a "
                f"sensor's colour noise can look the same (lossless film scans: docs/detectors.md)")
        if options.heatmaps is not None:
            write_heatmaps(record, analysis, display_rgb(image, green_of(pixels)), stem or Path(Path(path).name), options)
        return record

    def score_file(self, path: str | Path, stem: Path | None = None) -> ImageRecord:
        """Read and analyse one file; a file that cannot be read becomes an error record."""
        try:
            data = read_bytes(path)
        except ImageError as exc:
            return ImageRecord(path=str(path), status="error", error={"code": exc.code, "message": exc.message})
        return self.score(str(path), data, stem)


def _listed(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def scan(paths: list[str | Path], detectors: DetectorSet, options: ScanOptions | None = None,
         recursive: bool = True, include_hidden: bool = False, pattern: str | None = None,
         workers: int = 1) -> Iterator[ImageRecord]:
    """Scan files and folders with a detector set, yielding one :class:`ImageRecord` per
    file in sorted order. Paths that do not exist yield error records (code ``not_found``).
    ``workers`` > 1 scores that many files at once, each in a worker process of its own
    (:func:`score_in_workers`); the records are the same, in the same order."""
    options = options or ScanOptions()
    files, missing = collect_inputs(paths, recursive, include_hidden, pattern)
    for path in missing:
        yield missing_record(path)
    stems = output_stem(files)
    work = [(str(item.path), stems[item.path]) for item in files]
    if workers > 1 and len(work) > 1:
        yield from score_in_workers(work, detectors, options, min(workers, len(work)))
        return
    scorer = Scorer(detectors, options)
    for path, stem in work:
        yield scorer.score_file(path, stem)


_worker_scorer: Scorer | None = None
"""The :class:`Scorer` of a worker process of :func:`score_in_workers`."""


def _start_worker(detectors: DetectorSet, options: ScanOptions) -> None:
    global _worker_scorer
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent stops the workers
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    use_threads(options.threads)
    _worker_scorer = Scorer(detectors, options)


def _exit_with_parent() -> None:
    """End this worker process when the scan that started it ends, however it ends (killed
    too): an orphaned worker would wait for work forever, holding the scan's stdout open."""
    wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


def _score_in_worker(path: str, stem: Path) -> ImageRecord:
    return _worker_scorer.score_file(path, stem)


def score_in_workers(work: list[tuple[str, Path]], detectors: DetectorSet, options: ScanOptions, workers: int) -> Iterator[ImageRecord]:
    """Records of ``work`` ((path, output stem) pairs), in order, scored ``workers`` at a time
    by worker processes that each load the detectors once and use ``options.threads`` threads.

    A worker that dies (out of memory, say) breaks the pool: the files in flight that did not
    finish are scored again alone in fresh workers, and a file that kills that one too, or was
    the only one lost, becomes an error record (:mod:`scanner.engines.retry`, as on the Ray
    engine). Stopping early (Ctrl-C, or closing the iterator)
    ends the workers."""
    context = multiprocessing.get_context("spawn")  # never fork a process that holds threads
    before = set(multiprocessing.active_children())

    def pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(size, mp_context=context, initializer=_start_worker, initargs=(detectors, options))

    def end(executor: ProcessPoolExecutor) -> None:
        """Stop a pool whose files in flight are abandoned, or that broke: terminate its workers
        ourselves, since a broken pool on Python 3.11 misses a worker it was still starting and
        then waits for it forever, also when the interpreter exits."""
        executor.shutdown(wait=False, cancel_futures=True)
        for child in set(multiprocessing.active_children()) - before:
            child.terminate()
            child.join()
        executor.shutdown(wait=True)

    def alone(path: str, stem: Path) -> ImageRecord:
        with pool(1) as solo:
            try:
                return solo.submit(_score_in_worker, path, stem).result()
            except BrokenProcessPool as exc:
                return worker_failed(path, type(exc).__name__)

    queue = deque(work)
    running: deque[tuple[str, Path, Future]] = deque()
    executor = None
    try:
        while queue or running:
            executor = executor or pool(workers)
            try:
                while queue and len(running) < 2 * workers:
                    running.append((*queue[0], executor.submit(_score_in_worker, *queue[0])))
                    queue.popleft()
                record = running[0][2].result()
            except BrokenProcessPool:
                end(executor)
                executor = None
                finished = {path: f.result() for path, _, f in running if f.done() and not f.cancelled() and f.exception() is None}
                lost = [(path, stem) for path, stem, _ in running if path not in finished]
                again = {path: alone(path, stem) for [(path, stem)] in retry_alone(lost)}
                for path, _, _ in running:  # in order; a file lost alone killed its worker itself: it fails at once
                    yield finished.get(path) or again.get(path) or worker_failed(path, "BrokenProcessPool")
                running.clear()
                continue
            running.popleft()
            yield record
        if executor is not None:
            executor.shutdown()
            executor = None
    finally:
        if executor is not None:  # stopped early: the files in flight are abandoned
            end(executor)
