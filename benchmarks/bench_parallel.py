"""Several runs on a 2-core CPU: one process with all threads, or one process per core.

    python benchmarks/bench_parallel.py            # about 3 minutes on a 2-core CPU

(a) ``mnistlib.cluster.train_many``, runs unstacked: one worker process per core, one thread each (what
    ``mnistlib report`` does before executing the notebooks);
(b) the same runs one after another in this process, with torch's default threads.

Four LeNet-5 runs (seeds 0-3, 2 epochs, full MNIST) and then four CustomMLP_6 runs, each
mode in a fresh temporary run store; modes alternate, the table shows medians. Results also go
to ``benchmarks/results/bench_parallel.json``.
"""
from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

import mnistlib as ml
from mnistlib._util.machine import cores
from mnistlib.training.cluster import train_many

RESULTS = Path(__file__).resolve().parent / "results"


def grid(model: str, runs: int, epochs: int) -> dict[str, ml.RunConfig]:
    return {f"{model} seed {s}": ml.RunConfig(model=model, epochs=epochs, seed=s) for s in range(runs)}


def sequential(configs, arrays) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = ml.RunStore(tmp)
        start = time.perf_counter()
        for cfg in configs.values():
            ml.train(cfg, store=store, data=arrays, progress=False)
        return time.perf_counter() - start


def parallel(configs) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train_many(configs, workers=cores(), runs_dir=tmp, log=lambda line: None, stack=1)  # processes, not stacks
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    arrays = ml.load_mnist()
    rows = []
    for model in ("LeNet5", "CustomMLP_6"):
        configs = grid(model, args.runs, args.epochs)
        times = {"parallel": [], "sequential": []}
        for rep in range(args.reps):
            times["parallel"].append(parallel(configs))
            times["sequential"].append(sequential(configs, arrays))
            print(f"{model} rep {rep + 1}: parallel {times['parallel'][-1]:.1f} s, "
                  f"sequential {times['sequential'][-1]:.1f} s", flush=True)
        rows.append({"model": model, "runs": args.runs, "epochs": args.epochs,
                     **{mode: statistics.median(t) for mode, t in times.items()}, "all": times})
    print(f"\n{args.runs} runs × {args.epochs} epochs each, full MNIST; medians of {args.reps}; "
          f"{cores()} cores, torch {torch.__version__} (default threads {torch.get_num_threads()})")
    header = f"{'model':12s} {f'(a) {cores()} procs × 1 thread':>26s} {'(b) 1 proc, default threads':>28s} {'(b)/(a)':>8s}"
    print(header + "\n" + "-" * len(header))
    for row in rows:
        print(f"{row['model']:12s} {row['parallel']:24.1f} s {row['sequential']:26.1f} s "
              f"{row['sequential'] / row['parallel']:8.2f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_parallel.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
