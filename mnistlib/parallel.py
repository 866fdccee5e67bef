"""Train many runs at once: worker processes with the cores split between them, each training
stacks of runs that share an architecture.

A small network uses a second thread poorly, so single-threaded processes training different
runs finish a grid sooner (``benchmarks/bench_parallel.py`` measures it; README, Performance),
and runs stacked into one model (:mod:`mnistlib.stacking`) share each operator call. Runs go
through the run store as usual: a finished run is skipped, an interrupted one resumes, and a
crash in one worker loses nothing the store holds.

Floating-point sums depend on the thread count and on stacking, so a run trained here matches
the same run trained alone with two threads to about 1e-6 after an epoch, not bit for bit (see
README, Performance).
"""
from __future__ import annotations

import multiprocessing
import os
import time
import warnings
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Callable, Mapping

import torch

from .data import load_mnist
from .errors import RunHealthWarning
from .runconfig import RunConfig
from .runs import RunStore
from .stacking import MAX_STACK, stack_groups, train_stack

_worker: dict = {}
LENET_COST = 8.0  # a LeNet-5 image costs about this many MLP images (benchmarks/bench_training.py)


def cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _init(threads: int, data_dir: str | None, runs_dir: str | None) -> None:
    torch.set_num_threads(threads)
    # train() warns about collapsed runs; here the parent logs each run's health instead
    warnings.filterwarnings("ignore", category=RunHealthWarning)
    _worker.update(arrays=load_mnist(data_dir), store=RunStore(runs_dir))


def _train_group(labels: list[str], cfgs: list[RunConfig]) -> list[tuple[str, str, float, str]]:
    start = time.perf_counter()
    runs = train_stack(cfgs, store=_worker["store"], data=_worker["arrays"], progress=False)
    seconds = time.perf_counter() - start
    return [(label, run.path.name, seconds, str(run.health)) for label, run in zip(labels, runs)]


def _cost(cfg: RunConfig) -> float:
    # Relative cost per image (LeNet-5 against an MLP: README, Performance); long jobs first keeps every
    # worker busy to the end.
    per_image = LENET_COST if cfg.model.startswith("LeNet5") else 1.0
    return per_image * cfg.epochs * (cfg.train_subset or 60_000)


def train_many(configs: Mapping[str, RunConfig], workers: int | None = None, *, data_dir: str | Path | None = None,
               runs_dir: str | Path | None = None, log: Callable[[str], None] = print,
               stack: int = MAX_STACK) -> dict[str, str]:
    """Train every config not yet finished in the store, ``workers`` at a time; returns label -> run folder.

    ``workers`` defaults to the number of cores (one thread each), or 1 when CUDA is present
    (runs then share one device and gain little). Runs that can share a stack are trained in
    stacks of up to ``stack`` (1: each run alone). Labels with the same config share one run; a
    longer run that can continue from a shorter one in the batch waits for it.
    """
    store = RunStore(runs_dir)
    todo, labels, done = _pending(configs, store)
    if not todo:
        return done
    if workers is None:
        workers = 1 if torch.cuda.is_available() else cores()
    workers = max(1, min(workers, len(todo)))
    threads = max(1, cores() // workers)
    # A run waits for the longest shorter run it can continue from, when that one is in the batch too.
    waits_for = {}
    for label, cfg in todo.items():
        bases = [b for b in todo if b != label and cfg.continues(todo[b])]
        if bases:
            waits_for[label] = max(bases, key=lambda b: todo[b].epochs)
    ready = {label: cfg for label, cfg in todo.items() if label not in waits_for}
    groups = sorted(stack_groups(ready, stack, parts=workers), key=lambda g: -sum(_cost(todo[x]) for x in g))
    log(f"training {len(todo)} runs ({len(configs) - len(todo)} already stored or repeated) in {workers} process"
        f"{'es' if workers > 1 else ''} × {threads} thread{'s' if threads > 1 else ''}, "
        f"{len(groups) + len(waits_for)} stack{'s' if len(groups) + len(waits_for) > 1 else ''}")
    context = multiprocessing.get_context("spawn")  # no fork of a process holding torch threads
    initargs = (threads, str(data_dir) if data_dir else None, str(runs_dir) if runs_dir else None)
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init, initargs=initargs) as pool:
        submit = lambda group: pool.submit(_train_group, group, [todo[x] for x in group])  # noqa: E731
        pending = {submit(group) for group in groups}
        number = 0
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for label, name, seconds, health in [row for future in finished for row in future.result()]:
                number += 1
                for same in labels[todo[label].config_hash()]:
                    done[same] = name
                log(f"  [{number}/{len(todo)}] {label}: {seconds / 60:.1f} min ({health})")
                for waiting in [w for w, base in waits_for.items() if base == label]:
                    del waits_for[waiting]
                    pending.add(submit([waiting]))
    return done


def _pending(configs: Mapping[str, RunConfig], store: RunStore) -> tuple[dict, dict, dict]:
    """(label -> config still to train, config hash -> every label asking for it, label -> stored run folder)."""
    todo: dict[str, RunConfig] = {}
    labels: dict[str, list[str]] = {}
    done: dict[str, str] = {}
    for label, cfg in configs.items():
        key = cfg.config_hash()
        if key in labels:
            labels[key].append(label)
        elif (stored := store.find(cfg)) is not None and stored.finished:
            done[label] = stored.path.name
        else:
            labels[key] = [label]
            todo[label] = cfg
    for key, names in labels.items():
        if names[0] not in todo:  # a duplicate of a stored run
            done.update({name: store.path_for(configs[name]).name for name in names})
    return todo, labels, done
