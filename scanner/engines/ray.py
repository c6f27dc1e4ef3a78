"""Scanning on a Ray cluster (``scanner scan --engine ray``), with the records of the local engine.

Workers are Ray actors that each build one :class:`scanner.engines.local.Scorer` (detectors loaded once)
and score batches of files that they read themselves, so the files' bytes never travel through
the driver: on a real cluster every node must see the inputs at the same absolute paths (a
shared file system). The driver writes each finished batch as one JSON-lines shard under the
output folder, atomically (a temporary file renamed into place), so an interrupted run leaves
only whole shards. A re-run with the same folder skips every file whose record is already there
with the same sha256 (files that could not be read are keyed by path alone), so output is never
lost or duplicated. A worker that dies is restarted and its batch retried; a batch that fails
again is retried file by file, and a file that still kills its worker becomes an error record
(``worker_failed``).

Ray is an optional dependency: ``pip install "scanner[ray]"``.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..core.files import write_output
from ..core.threads import use_threads
from ..inputs.discovery import collect_inputs
from ..inputs.images import ImageError, read_bytes, sha256_hex
from ..scoring.options import ScanOptions
from ..scoring.records import ImageRecord, missing_record
from .local import Scorer
from .retry import retry_alone, worker_failed

SHARD_GLOB = "part-*.jsonl"
"""Names of the record shards in an output folder."""

INSTALL_HINT = 'the Ray engine needs Ray: pip install "scanner[ray]"'


def ray_available() -> bool:
    """Whether Ray can be imported."""
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def record_key(path: str, sha256: str | None) -> tuple[str, str | None]:
    """What identifies a finished file: its path as given and its content's sha256 (None
    for a file that could not be read)."""
    return (path, sha256)


def read_records(folder: str | Path) -> list[dict]:
    """Every record in the shards of ``folder``, once per :func:`record_key` (first kept),
    in shard-name order; unfinished temporary files are ignored."""
    seen, records = set(), []
    for shard in sorted(Path(folder).glob(SHARD_GLOB)):
        for line in shard.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            key = record_key(record["path"], record["sha256"])
            if key not in seen:
                seen.add(key)
                records.append(record)
    return records


@dataclass
class Job:
    """A file to score: ``path`` as the user gave it (what the record says) and ``location``,
    the absolute path the worker reads."""

    path: str
    location: str


class ScoreWorker:
    """A Ray actor: one :class:`Scorer`, built once, scoring batches of :class:`Job`."""

    def __init__(self, manips: list[str] | None, weights: str | None, options: ScanOptions) -> None:
        use_threads(options.threads)
        self.scorer = Scorer.shipped(manips, options, weights)

    def score(self, jobs: list[Job], done: set) -> tuple[list[ImageRecord], int]:
        """(records of the jobs not in ``done`` (keys of :func:`record_key`), how many were)."""
        records, skipped = [], 0
        for job in jobs:
            try:
                data = read_bytes(job.location, job.path)
            except ImageError as exc:
                key, record = record_key(job.path, None), ImageRecord(
                    path=job.path, status="error", error={"code": exc.code, "message": exc.message})
            else:
                key, record = record_key(job.path, sha256_hex(data)), None
            if key in done:
                skipped += 1
            else:
                records.append(record or self.scorer.score(job.path, data))
        return records, skipped


def _write_shard(folder: Path, name: str, records: list[ImageRecord]) -> None:
    """Write records as one JSON-lines shard, whole or not at all."""
    text = "".join(json.dumps(r.to_dict()) + "\n" for r in records)
    write_output(folder / name, True, lambda partial: partial.write_text(text, encoding="utf-8"))


class RayScan:
    """One scan on a Ray cluster: iterate over it for the records of this run as they complete
    (the files already recorded in ``folder`` are skipped and counted), written under ``folder``
    as they come (see the module docstring). ``address`` None starts a local cluster of
    ``workers`` x ``options.threads`` CPUs; ``workers`` actors of ``options.threads`` threads
    score ``batch_size`` files per task. Heat maps are not written by this engine."""

    def __init__(self, paths: list[str], folder: str | Path, options: ScanOptions, manips: list[str] | None = None,
                 weights: str | None = None, address: str | None = None, workers: int = 2, batch_size: int = 4,
                 recursive: bool = True, include_hidden: bool = False, pattern: str | None = None, retries: int = 2) -> None:
        self.paths, self.folder, self.options = paths, Path(folder), options
        self.manips, self.weights, self.address, self.workers = manips, weights, address, workers
        self.batch_size, self.recursive, self.include_hidden, self.pattern = batch_size, recursive, include_hidden, pattern
        self.retries = retries
        self.already_recorded = 0
        self.connected = False  # whether this scan called ray.init (and so shuts Ray down in close())

    def describe(self) -> dict:
        """How the scan ran (the ``engine`` of the JSON options)."""
        return {"name": "ray", "workers": self.workers, "address": self.address, "shards": str(self.folder),
                "already_recorded": self.already_recorded}

    def close(self) -> None:
        """Disconnect from Ray if this scan connected (a local cluster it started stops with it)."""
        if self.connected:
            import ray

            ray.shutdown()
            self.connected = False

    def __iter__(self) -> Iterator[ImageRecord]:
        import ray

        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob(".part-*.partial-*"):  # left by a scan stopped mid-write
            stale.unlink()
        done = {record_key(r["path"], r["sha256"]) for r in read_records(folder)}
        files, missing = collect_inputs(self.paths, self.recursive, self.include_hidden, self.pattern)
        run = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"
        shards = itertools.count()
        lost = [missing_record(p) for p in missing if record_key(p, None) not in done]
        self.already_recorded += len(missing) - len(lost)
        if lost:
            _write_shard(folder, f"part-{run}-{next(shards):06d}.jsonl", lost)
            yield from lost
        jobs = [Job(str(f.path), str(f.path.absolute())) for f in files]
        if not jobs:
            return
        threads = self.options.threads
        if not ray.is_initialized():
            ray.init(address=self.address, num_cpus=None if self.address else self.workers * threads,
                     include_dashboard=False, log_to_driver=False, configure_logging=False)
            self.connected = True
        actor = ray.remote(ScoreWorker).options(num_cpus=threads, max_restarts=-1, max_task_retries=self.retries)
        pool = [actor.remote(self.manips, self.weights, self.options) for _ in range(self.workers)]
        done_ref = ray.put(done)
        queue = [jobs[i : i + self.batch_size] for i in range(0, len(jobs), self.batch_size)]
        running: dict = {}
        free = list(pool)
        try:
            while queue or running:
                while queue and free:
                    worker, batch = free.pop(), queue.pop(0)
                    running[worker.score.remote(batch, done_ref)] = (worker, batch)
                ready, _ = ray.wait(list(running), num_returns=1)
                worker, batch = running.pop(ready[0])
                free.append(worker)
                try:
                    records, skipped = ray.get(ready[0])
                except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
                    again = retry_alone(batch)  # file by file, so one bad file cannot fail its neighbours
                    if again:
                        queue[:0] = again
                        continue
                    records, skipped = [worker_failed(batch[0].path, type(exc).__name__)], 0
                self.already_recorded += skipped
                if records:
                    _write_shard(folder, f"part-{run}-{next(shards):06d}.jsonl", records)
                    yield from records
        finally:
            for worker in pool:
                ray.kill(worker)
