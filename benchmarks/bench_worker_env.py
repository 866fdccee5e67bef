"""What a Dask worker's environment costs training: the same stacked training in a fresh process
with Dask's worker environment and without it, alternating.

    python benchmarks/bench_worker_env.py            # about 4 minutes on a 2-core CPU (one core used at a time)
    python benchmarks/bench_worker_env.py --reps 5
    python benchmarks/bench_worker_env.py --short    # one case, once per environment, 2 runs on 300 images

A Dask nanny starts each worker process with ``distributed.nanny.pre-spawn-environ``: by default
``MALLOC_TRIM_THRESHOLD_=65536`` (glibc returns freed memory to the system early) and
``OMP/MKL/OPENBLAS_NUM_THREADS=1``. Setting the trim threshold also turns off glibc's adaptive
mmap threshold, so every buffer above 128 KiB (a LeNet-5 batch's activations) is a fresh
``mmap`` and a round of page faults, every step. Each side here trains the same stack of runs
(``train_stack``, one thread) in a child process that differs only in that environment; the
table gives images/s and the ratio within each repetition. Results also go to
``benchmarks/results/bench_worker_env.json``. ``--short``: LeNet-5 at batch 64, 2 runs stacked, one epoch
of 300 images, each environment once; it checks every side gave a finite rate, and writes no results.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import machine  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
CASES = (("LeNet5", 10, 4), ("LeNet5", 64, 4))  # model, batch, runs stacked
SUBSET = 6_000
SHORT_CASES, SHORT_SUBSET = (("LeNet5", 64, 2),), 300  # --short


def dask_worker_env() -> dict[str, str]:
    """The variables Dask's nanny sets before it starts a worker (its default config)."""
    import dask
    import distributed  # noqa: F401  (loads distributed's defaults into dask.config)

    return {k: str(v) for k, v in dask.config.get("distributed.nanny.pre-spawn-environ").items() if v is not None}


def child(model: str, batch: int, runs: int, subset: int = SUBSET) -> None:
    """Train ``runs`` stacked runs for one epoch of ``subset`` images; print training images/s."""
    import time
    import warnings

    import torch

    import mnistlib as ml
    from mnistlib.errors import RunHealthWarning
    from mnistlib.training.lifecycle import train_stack

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=RunHealthWarning)  # a short epoch may not leave chance
    data = ml.load_mnist()
    configs = [ml.RunConfig(model=model, epochs=1, batch_size=batch, train_subset=subset, seed=s) for s in range(runs)]
    with tempfile.TemporaryDirectory() as tmp:
        train_stack(configs[:1], store=ml.RunStore(tmp + "/warm"), data=data, progress=False)  # warm-up
        start = time.perf_counter()
        stored = train_stack(configs, store=ml.RunStore(tmp + "/runs"), data=data, progress=False)
        seconds = time.perf_counter() - start
        assert len(stored) == runs and all(run.finished and run.status.get("stack") == runs for run in stored) \
            or runs == 1, [run.status for run in stored]
    # the epoch's training time as the store recorded it, without evaluation
    train_seconds = sum(run.history["seconds"].iloc[-1] for run in stored)
    print(json.dumps({"images_per_s": runs * subset / train_seconds, "seconds": seconds}))


def measure(model: str, batch: int, runs: int, env: dict[str, str], subset: int = SUBSET) -> float:
    out = subprocess.run([sys.executable, __file__, "--child", model, str(batch), str(runs), "--subset", str(subset)],
                         env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])["images_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--subset", type=int, default=SUBSET, help=argparse.SUPPRESS)  # the child's images
    parser.add_argument("--short", action="store_true",
                        help=f"one case ({SHORT_CASES[0][2]} LeNet-5 runs at batch {SHORT_CASES[0][1]}, "
                             f"{SHORT_SUBSET} images), each environment once; checked, no results written")
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), int(args.child[2]), args.subset)
        return
    cases, subset = (SHORT_CASES, SHORT_SUBSET) if args.short else (CASES, SUBSET)
    if args.short:
        args.reps = 1
    plain = {k: v for k, v in os.environ.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    dask_env = dask_worker_env()
    sides = {"plain process": plain, "Dask worker env": {**plain, **dask_env},
             "Dask env, trim unset": {**plain, **{k: v for k, v in dask_env.items() if k != "MALLOC_TRIM_THRESHOLD_"}}}
    print(f"Dask's worker environment: {dask_env}")
    results = []
    for model, batch, runs in cases:
        rates = {name: [] for name in sides}
        for rep in range(args.reps):
            order = list(sides) if rep % 2 == 0 else list(sides)[::-1]
            for name in order:
                rates[name].append(measure(model, batch, runs, sides[name], subset))
        base = rates["plain process"]
        row = {"model": model, "batch": batch, "runs": runs, "images_per_s": rates,
               "ratio_to_plain": {n: statistics.median(a / b for a, b in zip(r, base)) for n, r in rates.items()}}
        results.append(row)
        print(f"{model} batch {batch}, {runs} stacked: " + "; ".join(
            f"{n} {statistics.median(r):,.0f} img/s (×{row['ratio_to_plain'][n]:.3f})" for n, r in rates.items()),
            flush=True)
    print(f"{machine()}")
    if args.short:
        assert len(results) == len(cases) and all(
            len(rates) == args.reps and all(math.isfinite(r) and r > 0 for r in rates)
            for row in results for rates in row["images_per_s"].values()), results
        assert all(math.isfinite(v) for row in results for v in row["ratio_to_plain"].values()), results
        print("short run: checked, no results written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_worker_env.json").write_text(json.dumps(
        {"machine": machine(), "dask_env": dask_env, "subset": subset, "results": results}, indent=1))


if __name__ == "__main__":
    main()
