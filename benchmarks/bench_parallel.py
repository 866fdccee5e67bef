"""Several runs on a 2-core CPU: one process with all threads, or one process per core.

    python benchmarks/bench_parallel.py            # about 3 minutes on a 2-core CPU
    python benchmarks/bench_parallel.py --short    # LeNet-5 only, 2 runs of 1 epoch on 100 images, checked

(a) ``mnistlib.training.cluster.train_many``, runs unstacked: one worker process per core, one thread each
    (what ``mnistlib report`` does before executing the notebooks);
(b) the same runs one after another in this process, with torch's default threads.

Four LeNet-5 runs (seeds 0-3, 2 epochs, full MNIST) and then four CustomMLP_6 runs, each
mode in a fresh temporary run store; modes alternate, the table shows medians. Results also go
to ``benchmarks/results/bench_parallel.json``. ``--short``: one repetition of LeNet-5's pair of modes on
2 runs of one epoch on 100 training and 100 test images; it checks both modes trained every run, and
writes no results.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

import mnistlib as ml
from mnistlib._util.machine import cores
from mnistlib.errors import RunHealthWarning
from mnistlib.training.cluster import train_many

RESULTS = Path(__file__).resolve().parent / "results"
SHORT = {"train_subset": 100, "test_subset": 100}  # --short: each run's images


def grid(model: str, runs: int, epochs: int, **subsets) -> dict[str, ml.RunConfig]:
    return {f"{model} seed {s}": ml.RunConfig(model=model, epochs=epochs, seed=s, **subsets) for s in range(runs)}


def finished(store: ml.RunStore, configs) -> None:
    """Every run of ``configs`` is stored, finished, with finite losses."""
    runs = [store.find_finished(cfg) for cfg in configs.values()]
    assert all(run is not None and run.history[["train_loss", "test_loss"]].map(math.isfinite).all().all()
               for run in runs), runs


def sequential(configs, arrays) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = ml.RunStore(tmp)
        start = time.perf_counter()
        for cfg in configs.values():
            ml.train(cfg, store=store, data=arrays, progress=False)
        seconds = time.perf_counter() - start
        finished(store, configs)
        return seconds


def parallel(configs) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        names = train_many(configs, workers=cores(), runs_dir=tmp, log=lambda line: None, stack=1)  # processes, not stacks
        seconds = time.perf_counter() - start
        assert sorted(names) == sorted(configs), names
        finished(ml.RunStore(tmp), configs)
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--short", action="store_true",
                        help="LeNet-5 only, one repetition of 2 runs × 1 epoch on 100 images; checked, nothing written")
    args = parser.parse_args()
    if args.short:
        args.reps, args.runs, args.epochs = 1, 2, 1
        warnings.filterwarnings("ignore", category=RunHealthWarning)  # an epoch of 100 images stays at chance
    arrays = ml.load_mnist()
    rows = []
    for model in ("LeNet5",) if args.short else ("LeNet5", "CustomMLP_6"):
        configs = grid(model, args.runs, args.epochs, **(SHORT if args.short else {}))
        times = {"parallel": [], "sequential": []}
        for rep in range(args.reps):
            times["parallel"].append(parallel(configs))
            times["sequential"].append(sequential(configs, arrays))
            print(f"{model} rep {rep + 1}: parallel {times['parallel'][-1]:.1f} s, "
                  f"sequential {times['sequential'][-1]:.1f} s", flush=True)
        rows.append({"model": model, "runs": args.runs, "epochs": args.epochs,
                     **{mode: statistics.median(t) for mode, t in times.items()}, "all": times})
    print(f"\n{args.runs} runs × {args.epochs} epochs each, {'full MNIST' if not args.short else '100 images'}; "
          f"medians of {args.reps}; "
          f"{cores()} cores, torch {torch.__version__} (default threads {torch.get_num_threads()})")
    header = f"{'model':12s} {f'(a) {cores()} procs × 1 thread':>26s} {'(b) 1 proc, default threads':>28s} {'(b)/(a)':>8s}"
    print(header + "\n" + "-" * len(header))
    for row in rows:
        print(f"{row['model']:12s} {row['parallel']:24.1f} s {row['sequential']:26.1f} s "
              f"{row['sequential'] / row['parallel']:8.2f}")
    if args.short:
        assert len(rows) == 1 and all(len(t) == 1 and t[0] > 0 for t in rows[0]["all"].values()), rows
        print("short run: checked, no results written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_parallel.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
