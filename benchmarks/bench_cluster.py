"""Dask's LocalCluster (what `mnistlib report` trains with) against the process pool it replaced,
on one report profile's runs from an empty store, alternating, in pairs.

    python benchmarks/bench_cluster.py                       # the quick profile, 3 pairs: about 45 minutes on 2 cores
    python benchmarks/bench_cluster.py --profile smoke --pairs 1   # a check that it runs, a minute
    python benchmarks/bench_cluster.py --short     # one pair on 5 of the smoke profile's runs, checked

Each side trains every run the profile's notebooks declare (the original's grid, notebook 6's and
notebook 7's) into a fresh temporary store, with one worker process per core, one thread each,
and the same stacks; the notebooks' execution, the same on both sides, is left out. Prints each
pair's wall times and the median ratio (LocalCluster / pool); results also go to
``benchmarks/results/bench_cluster.json``.

Where a gap comes from: each side also reports its stacks' busy time, from the runs' own
``run.json`` (a stack trains on one worker from its runs' start to their finish). Busy time that
differs is training that ran slower; the rest of the wall time, times the workers, is workers
left idle (start-up, a task waiting, the grid's tail).

``--short``: one pair on 5 of the smoke profile's runs (LeNet-5 and its three λ runs, which stack, and
notebook 6's longer LeNet-5, which continues LeNet-5's run); it checks both sides trained every run and
stored the same runs, and writes no results.
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from mnistlib._util.machine import cores
from mnistlib.report.context import check_parameters
from mnistlib.report.grids import flat, flat_beyond, grid_label
from mnistlib.store.store import RunStore
from mnistlib.training.cluster import train_many

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import machine  # noqa: E402
from pool_baseline import train_many_pool  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"


def busy_seconds(runs_dir: str) -> float:
    """Worker-seconds spent training: the span of every stack, from its runs' run.json. A stack's runs
    share their start and finish with the stack; two stacks of one size that start in the same second
    (on two workers) count twice, by their runs' number."""
    spans: dict[tuple[str, int], list[float]] = {}
    for status in Path(runs_dir).glob("*/run.json"):
        run = json.loads(status.read_text())
        start, end = (datetime.fromisoformat(run[key]).timestamp() for key in ("started", "finished"))
        spans.setdefault((run["started"], run.get("stack", 1)), []).append(end - start)
    return sum(max(span) * round(len(span) / size) for (_, size), span in spans.items())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--short", action="store_true",
                        help="one pair on 5 of the smoke profile's runs, both sides checked; no results written")
    args = parser.parse_args()
    if args.short:
        args.profile, args.pairs = "smoke", 1
    settings = check_parameters(profile=args.profile)
    configs = {**flat(settings.grid), **flat_beyond(settings.beyond), **flat_beyond(settings.reproduce)}
    if args.short:  # two stacks of two on two workers, and a run that waits for its base
        configs = {label: configs[label] for label in (*settings.grid["baseline"], *settings.grid["weight_decay"],
                                                       grid_label("long", "LeNet5"))}
    sides = {"dask LocalCluster": lambda tmp: train_many(configs, cores(), runs_dir=tmp, log=lambda line: None),
             "process pool (before)": lambda tmp: train_many_pool(configs, cores(), runs_dir=tmp)}
    times = {name: [] for name in sides}
    busy = {name: [] for name in sides}
    stored = {name: [] for name in sides}  # --short: each side's run folders
    for pair in range(args.pairs):
        order = list(sides) if pair % 2 == 0 else list(sides)[::-1]  # alternate which side goes first
        for name in order:
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                folders = sides[name](tmp)
                times[name].append(time.perf_counter() - start)
                busy[name].append(busy_seconds(tmp))
                if args.short:
                    assert sorted(folders) == sorted(configs), f"{name}: {sorted(set(configs) - set(folders))} not trained"
                    assert all(RunStore(tmp).load(folders[label]).finished for label in configs), name
                    stored[name].append(folders)
        print(f"pair {pair + 1}/{args.pairs}: " + ", ".join(f"{n} {t[-1] / 60:.2f} min" for n, t in times.items()),
              flush=True)
    ratio = statistics.median(a / b for a, b in zip(*times.values()))
    print(f"\n{args.profile} profile, {len(configs)} runs, {cores()} workers; {machine()}")
    for name, values in times.items():
        idle = [1 - b / (w * cores()) for b, w in zip(busy[name], values)]
        print(f"  {name:22s} median {statistics.median(values) / 60:.2f} min  ({', '.join(f'{v:.0f} s' for v in values)}); "
              f"stacks busy {statistics.median(busy[name]) / 60:.2f} worker-min, workers idle "
              f"{statistics.median(idle):.1%} of the wall time")
    print(f"  LocalCluster / pool: ×{ratio:.3f} (median of the pairs' ratios; above 1 is slower)")
    if args.short:
        (dask_runs,), (pool_runs,) = stored.values()
        assert dask_runs == pool_runs, (dask_runs, pool_runs)  # the same runs (folders name the configs)
        # run.json's times are to the second, and smoke stacks can start and finish within one: busy may be 0
        assert all(len(v) == 1 and v[0] > 0 for v in times.values()) and math.isfinite(ratio)
        assert all(len(v) == 1 and v[0] >= 0 for v in busy.values())
        print("short run: checked, no results written")
        return
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "bench_cluster.json").write_text(json.dumps(
        {"machine": machine(), "profile": args.profile, "runs": len(configs), "seconds": times, "busy_seconds": busy,
         "ratio": ratio}, indent=1))


if __name__ == "__main__":
    main()
