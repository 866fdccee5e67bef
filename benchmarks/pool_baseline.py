"""The baseline for bench_cluster.py: the process pool mnistlib used before Dask (mnistlib/parallel.py
at commit 75b4d96), unchanged but for its imports: one spawned process per core, one thread each,
stacks longest first, a continuing run submitted when its base finishes.

    python benchmarks/pool_baseline.py                    # the smoke profile's runs through the pool, timed
    python benchmarks/pool_baseline.py --short            # 2 runs of 100 images, one stack on one worker, checked

Run alone, it trains a report profile's runs (as bench_cluster.py's pool side does) into a temporary
store and prints the wall time; it writes no results. ``--short`` trains two LeNet-5 runs of 100 images
on one worker process (one start-up, not one per core; bench_cluster.py's short mode runs the pool on
every core) and checks both are stored, finished, and trained as one stack.
"""
from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import torch

from mnistlib._util.machine import cores
from mnistlib.data.mnist import load_mnist
from mnistlib.errors import RunHealthWarning
from mnistlib.runconfig import RunConfig
from mnistlib.store.identity import config_hash
from mnistlib.store.store import RunStore
from mnistlib.training.cluster import _bases, _cost, _pending
from mnistlib.training.lifecycle import train_stack
from mnistlib.training.loop import MAX_STACK, stack_groups

_worker: dict = {}


def _init(threads, data_dir, runs_dir) -> None:
    torch.set_num_threads(threads)
    warnings.filterwarnings("ignore", category=RunHealthWarning)
    _worker.update(arrays=load_mnist(data_dir), store=RunStore(runs_dir))


def _train_group(labels, cfgs):
    start = time.perf_counter()
    runs = train_stack(cfgs, store=_worker["store"], data=_worker["arrays"], progress=False)
    return [(label, run.path.name, time.perf_counter() - start, str(run.health)) for label, run in zip(labels, runs)]


def train_many_pool(configs, workers=None, *, data_dir=None, runs_dir=None, stack=MAX_STACK) -> dict[str, str]:
    """train_many as it was: returns label -> run folder."""
    store = RunStore(runs_dir)
    todo, labels, done = _pending(configs, store)
    if not todo:
        return done
    workers = max(1, min(workers or cores(), len(todo)))
    threads = max(1, cores() // workers)
    waits_for = _bases(todo)
    ready = {label: cfg for label, cfg in todo.items() if label not in waits_for}
    groups = sorted(stack_groups(ready, stack, parts=workers), key=lambda g: -sum(_cost(todo[x]) for x in g))
    context = multiprocessing.get_context("spawn")
    initargs = (threads, str(data_dir) if data_dir else None, str(runs_dir) if runs_dir else None)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init, initargs=initargs) as pool:
        submit = lambda group: pool.submit(_train_group, group, [todo[x] for x in group])  # noqa: E731
        pending = {submit(group) for group in groups}
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for label, name, _, _ in [row for future in finished for row in future.result()]:
                for same in labels[config_hash(todo[label])]:
                    done[same] = name
                for waiting in [w for w, base in waits_for.items() if base == label]:
                    del waits_for[waiting]
                    pending.add(submit([waiting]))
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke", help="the report profile whose runs to train (smoke)")
    parser.add_argument("--short", action="store_true",
                        help="2 LeNet-5 runs of 100 images as one stack on one worker; checked")
    args = parser.parse_args()
    workers = 1 if args.short else cores()
    if args.short:
        configs = {f"seed {s}": RunConfig(model="LeNet5", epochs=1, seed=s, train_subset=100, test_subset=100)
                   for s in range(2)}
    else:
        from mnistlib.report.context import check_parameters
        from mnistlib.report.grids import flat, flat_beyond

        settings = check_parameters(profile=args.profile)
        configs = {**flat(settings.grid), **flat_beyond(settings.beyond), **flat_beyond(settings.reproduce)}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        names = train_many_pool(configs, workers, runs_dir=tmp)
        seconds = time.perf_counter() - start
        store = RunStore(tmp)
        stacks = sorted(store.load(name).status.get("stack", 1) for name in names.values())
        print(f"{len(configs)} runs ({len(set(names.values()))} distinct) through the process pool, {workers} worker{'s' * (workers > 1)}: "
              f"{seconds:.1f} s; runs per stack {stacks}")
        if args.short:
            assert sorted(names) == sorted(configs) and all(store.find_finished(cfg) for cfg in configs.values()), names
            assert stacks == [2, 2], stacks
            print("short run: checked")


if __name__ == "__main__":
    main()
