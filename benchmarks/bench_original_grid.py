"""The original's whole grid under its own protocol: its 34 published runs (seed 0, batch 10, momentum
0.6, 50 epochs on full MNIST), trained from an empty run store the way ``mnistlib report`` trains
them with ``reproduce: all``: stacked, on a LocalCluster of one single-threaded worker per core.

    python benchmarks/bench_original_grid.py                   # about an hour on 2 cores
    python benchmarks/bench_original_grid.py --profile smoke   # a check that it runs, seconds
    python benchmarks/bench_original_grid.py --models LeNet5   # the LeNet-5 stack alone
    python benchmarks/bench_original_grid.py --short           # smoke profile, two MLPs' 6 runs, checked

Prints the wall time, each stack's time as the workers report it, and how busy the workers were
(from the runs' own run.json, as in bench_cluster.py); results also go to
``benchmarks/results/bench_original_grid.json``. ``--runs-dir`` keeps the trained runs (it must be
empty, or the time is not from an empty store); by default they go to a temporary folder. ``--models``
trains only those models' runs. ``--short``: the smoke profile's runs of CustomMLP_1 and CustomMLP_2 (two
stacks of 3); it checks every run is stored, finished with its epoch-0 row, and trained in its model's
stack, and writes no results.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

from mnistlib._util.machine import cores
from mnistlib.report.context import check_parameters
from mnistlib.store.store import RunStore
from mnistlib.training.cluster import train_many

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cluster import busy_seconds  # noqa: E402
from bench_training import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SHORT_MODELS = ("CustomMLP_1", "CustomMLP_2")  # --short: 3 runs each, fast at batch 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="full", help="the report profile whose epochs and data to use (full)")
    parser.add_argument("--runs-dir", help="an empty folder to keep the runs in (default: a temporary one)")
    parser.add_argument("--models", nargs="+", help="train only these models' runs (default: all 34 runs)")
    parser.add_argument("--short", action="store_true",
                        help=f"the smoke profile's runs of {' and '.join(SHORT_MODELS)}, checked; no results written")
    args = parser.parse_args()
    if args.short:
        args.profile, args.models = "smoke", list(SHORT_MODELS)
    runs = check_parameters(profile=args.profile, reproduce="all").reproduce["all_original_runs"]
    if args.models:
        runs = {label: cfg for label, cfg in runs.items() if cfg.model in args.models}
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(args.runs_dir or tmp)
        if runs_dir.exists() and any(runs_dir.iterdir()):
            sys.exit(f"error: {runs_dir} is not empty; give an empty or new --runs-dir, so the time is from an empty store")
        lines: list[str] = []

        def log(line: str) -> None:  # each line with the minutes since the start
            lines.append(f"{(time.perf_counter() - start) / 60:6.1f} min  {line}")
            print(lines[-1], flush=True)

        start = time.perf_counter()
        folders = train_many(runs, cores(), runs_dir=runs_dir, log=log)
        seconds = time.perf_counter() - start
        busy = busy_seconds(str(runs_dir))
        if args.short:
            stored = {label: RunStore(runs_dir).load(folders[label]) for label in runs}
            assert all(run.finished and list(run.history.epoch) == list(range(run.config.epochs + 1))
                       for run in stored.values()), stored
            assert all(run.status.get("stack") == 3 for run in stored.values()), [r.status for r in stored.values()]
            trained = sum(run.history.seconds.sum() for run in stored.values())
    workers = min(cores(), len(runs))
    models = "" if not args.models else f" of {', '.join(args.models)}"
    print(f"\nthe original's {len(runs)} runs{models}, {args.profile} profile, from an empty store on {workers} workers; "
          f"{machine()}")
    print(f"  wall time {seconds / 60:.1f} min; stacks busy {busy / 60:.1f} worker-min, "
          f"workers idle {1 - busy / (seconds * workers):.1%} of the wall time")
    if args.short:
        # run.json's times are to the second, and a smoke stack can start and finish within one: busy may be 0
        assert len(runs) == 3 * len(SHORT_MODELS) and busy >= 0 and trained > 0 and math.isfinite(seconds), \
            (runs, busy, trained, seconds)
        print("short run: checked, no results written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_original_grid.json").write_text(json.dumps(
        {"machine": machine(), "profile": args.profile, "models": args.models, "runs": len(runs), "workers": workers,
         "seconds": seconds,
         "busy_seconds": busy, "log": lines}, indent=1))


if __name__ == "__main__":
    main()
