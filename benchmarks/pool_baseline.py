"""The baseline for bench_cluster.py: the process pool mnistlib used before Dask (mnistlib/parallel.py
at commit 75b4d96), unchanged but for its imports: one spawned process per core, one thread each,
stacks longest first, a continuing run submitted when its base finishes."""
from __future__ import annotations

import multiprocessing
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

import torch

from mnistlib.training.cluster import _bases, _cost, _pending
from mnistlib._util.machine import cores
from mnistlib.data.mnist import load_mnist
from mnistlib.errors import RunHealthWarning
from mnistlib.store.identity import config_hash
from mnistlib.store.store import RunStore
from mnistlib.training.stack import MAX_STACK, stack_groups, train_stack

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
