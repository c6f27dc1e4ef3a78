"""Table II in several processes at once (one GPU or many cores shared), resumable.

    python -m benchmarks.reports.table2_parallel --state docs/results-table2.state.json --out docs/results-table2.md \
        [--processes 5] [--threads 3] [--device cuda] [--bayar-epochs N] [--positions K] [--bayar-minutes M]
        [--timeout 540] [--images DIR] [--cache DIR]

Each process runs ``scanner evaluate --table2 --scale small`` on its share of the tasks not yet in
``--state`` and records each finished task in its own state file at once. At the end, or when
``--timeout`` seconds have passed (the processes are then killed: each loses at most the task it
was on), the finished tasks are merged into ``--state`` and the report ``--out`` is written from
it. Run it again to finish the rest. The small models leave a GPU mostly idle, so several
processes share it well; on a CPU, give each process its share of the cores (``--threads``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads per process")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--scale", default="small")
    parser.add_argument("--bayar-epochs", type=int, default=None)
    parser.add_argument("--recast-epochs", type=int, default=None)
    parser.add_argument("--positions", type=int, default=None, help="recast CNN: positions sampled per training histogram")
    parser.add_argument("--bayar-minutes", type=float, default=None, help="Bayar2016: training budget per task, minutes")
    parser.add_argument("--relaxation", default="soft", help="recast CNN: soft, or straight (straight-through, every position)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds before unfinished processes are stopped")
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args()
    from scanner.evaluation.table2 import PAPER_TABLE2, Table2Scale, task_state_key, write_table2

    scale = Table2Scale.named(args.scale, args.recast_epochs, args.bayar_epochs, args.positions, args.bayar_minutes, args.relaxation)
    done = json.loads(args.state.read_text()) if args.state.exists() else {}
    todo = [(m, s) for m, s in PAPER_TABLE2 if task_state_key(scale, m, s) not in done]
    options = (["--bayar-epochs", str(args.bayar_epochs)] if args.bayar_epochs else []) + \
              (["--recast-epochs", str(args.recast_epochs)] if args.recast_epochs else []) + \
              (["--positions", str(args.positions)] if args.positions else []) + \
              (["--bayar-minutes", f"{args.bayar_minutes:g}"] if args.bayar_minutes else []) + \
              (["--relaxation", args.relaxation] if args.relaxation != "soft" else [])
    command = (f"python -m benchmarks.reports.table2_parallel --state {args.state} --out {args.out} --processes {args.processes} "
               f"--threads {args.threads} --device {args.device}" + "".join(f" {o}" for o in options))
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    with tempfile.TemporaryDirectory() as tmp:
        groups = [todo[k :: args.processes] for k in range(args.processes)]
        processes = []
        for k, group in enumerate(g for g in groups if g):
            cmd = [sys.executable, "-m", "scanner", "evaluate", "--table2", "--scale", args.scale, "--device", args.device,
                   "--state", f"{tmp}/state{k}.json", "--out", f"{tmp}/table2-{k}.md", *options]
            cmd += [a for m, s in group for a in ("--task", f"{m}:{float(s):g}")]
            cmd += ["--images", str(args.images)] if args.images else []
            cmd += ["--cache", str(args.cache)] if args.cache else []
            log = open(f"{tmp}/log{k}.txt", "w")
            processes.append((subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT), log, k))
            print(f"process {k}: {', '.join(f'{m} {s:g}' for m, s in group)}", flush=True)
        start = time.monotonic()
        while any(p.poll() is None for p, _, _ in processes):
            if args.timeout and time.monotonic() - start > args.timeout:
                for p, _, _ in processes:
                    p.kill()
                print("timeout: unfinished tasks stopped", flush=True)
                break
            time.sleep(2)
        for p, log, k in processes:
            p.wait()
            log.close()
            part = Path(f"{tmp}/state{k}.json")
            if part.exists():
                done.update(json.loads(part.read_text()))
            print(f"--- process {k} (exit {p.returncode}):\n" + Path(f"{tmp}/log{k}.txt").read_text()[-1500:], flush=True)
    args.state.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.state.with_suffix(".tmp")
    temporary.write_text(json.dumps(done, indent=1))
    temporary.replace(args.state)
    write_table2(done, scale, args.out, command, 0)
    left = [(m, s) for m, s in PAPER_TABLE2 if task_state_key(scale, m, s) not in done]
    print(f"{len(PAPER_TABLE2) - len(left)} of {len(PAPER_TABLE2)} tasks done; wrote {args.out}", flush=True)


if __name__ == "__main__":
    main()
