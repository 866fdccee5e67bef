"""A run's life in the store, alone or stacked: its lock, resume, every epoch saved, callbacks and progress.

    >>> from mnistlib import RunConfig, train
    >>> run = train(RunConfig(model="LeNet5", epochs=50))                 # stored runs are reused
    >>> runs = train_stack([RunConfig(model="LeNet5", seed=s) for s in range(4)])   # one stacked model

``train`` is ``train_stack`` of one run. Either returns at once with the stored results of runs that have
finished and resumes from the last checkpoint the ones interrupted; the history is the same as that of one
uninterrupted run (same config and seed, same device and thread count, same stack).
"""
from __future__ import annotations

import contextlib
import sys
import time
import warnings
from typing import Callable, Iterable, Sequence

import filelock
import torch

from .._util.machine import resolve_device
from ..data.cache import run_tensors
from ..data.mnist import MNISTArrays, load_mnist
from ..errors import ConfigError, RunHealthWarning
from ..runconfig import RunConfig
from ..stats import State
from ..store.identity import config_hash, run_name
from ..store.store import Run, RunStore
from .job import Job, run_status
from .loop import PER_RUN_FIELDS, group_of, stack_key, train_epoch

EpochCallback = Callable[[Run, dict], None]


class HealthWarnings:
    """Epoch callback: warns (RunHealthWarning) once when a run diverges or collapses, and at its
    last epoch when it never left chance; the run goes on, its health is recorded."""

    def __init__(self, epochs: int):
        self.epochs, self.warned = epochs, False

    def __call__(self, run: Run, row: dict) -> None:
        verdict = run.health
        if verdict.failed and not self.warned:
            warnings.warn(f"{run.name}: {verdict} (recorded; training goes on)", RunHealthWarning, stacklevel=_caller())
            self.warned = True
        elif row["epoch"] >= self.epochs and verdict.state is State.AT_CHANCE:
            warnings.warn(f"{run.name}: {verdict} (recorded)", RunHealthWarning, stacklevel=_caller())


def _caller() -> int:
    """The stack level of the first frame outside this module: the code that called train or train_stack."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    return level


def train(cfg: RunConfig, *, store: RunStore | None = None, data: MNISTArrays | None = None,
          progress: bool = True, callbacks: Iterable[EpochCallback] = ()) -> Run:
    """Train ``cfg`` into the run store, or return the stored run if it has finished.

    ``data``: decoded MNIST (default: :func:`load_mnist`). ``callbacks`` are called after each
    epoch with (run, row), after :class:`HealthWarnings`. A non-finite loss or a collapse to chance
    is recorded and warned about, never raised: it is a result. While another process trains the
    same run (its lock: :meth:`RunStore.lock`), this one waits, then returns what it stored, or
    resumes it if that process died.
    """
    return train_stack([cfg], store=store, data=data, progress=progress, callbacks=callbacks)[0]


def train_stack(cfgs: Sequence[RunConfig], *, store: RunStore | None = None, data: MNISTArrays | None = None,
                progress: bool = True, callbacks: Iterable[EpochCallback] = ()) -> list[Run]:
    """Train ``cfgs`` (runs that may differ only in :data:`~mnistlib.training.loop.PER_RUN_FIELDS`) as
    one stack, each into its own folder of the run store, and return their runs in order.

    Finished runs are returned as stored. The stack takes its runs' locks in one sorted order; a run
    another process is training leaves the stack, and is waited for and read (or resumed, if that
    process died) once the others are done. A kill between two runs' saves of an epoch leaves a stack's
    runs one epoch apart: those that stored it take it back (each stacked run keeps its previous epoch
    until it finishes) and the stack trains it again whole. Every run's epoch is stored before any
    callback runs. So an interrupted stack resumes with the same composition, bit-identical to an
    uninterrupted one. Runs stored further apart (one was trained further on its own) do not wait for
    each other: those behind train, stacked among themselves, until all are at the same epoch. A stack of one run is that run trained alone.
    """
    store, callbacks = (store or RunStore()).writable(), tuple(callbacks)  # given to every run, a generator too
    runs = {i: run for i, cfg in enumerate(cfgs) if (run := store.find_finished(cfg)) is not None}
    _check(cfgs, [cfg for i, cfg in enumerate(cfgs) if i not in runs])
    while len(runs) < len(cfgs):
        todo = [i for i in range(len(cfgs)) if i not in runs]
        held = _free_locks(store, cfgs, todo) or _wait_for(store, cfgs[todo[0]], todo[0], progress)
        try:
            ready = {i: store.find_finished(cfgs[i]) for i in held}  # finished while this process waited for it
            runs.update({i: run for i, run in ready.items() if run is not None})
            left = {i: cfgs[i] for i in held if ready[i] is None}
            if left:
                runs.update(_train_held(store, left, data, progress, callbacks))
        finally:
            for lock in held.values():
                lock.release()
    return [runs[i] for i in range(len(cfgs))]


def _check(cfgs: Sequence[RunConfig], untrained: Sequence[RunConfig]) -> None:
    """The one rule for what may train together: runs alike but in their own data; and what may train at all:
    runs mnistlib trains (an imported run is only ever read)."""
    for cfg in untrained:
        if cfg.origin != "trained":
            raise ConfigError(f"{run_name(cfg)}: an imported run ({cfg.origin}) is read from the store, never "
                              f"trained; import it first (mnistlib import-original)")
    if len({stack_key(cfg) for cfg in cfgs}) > 1:
        raise ConfigError(f"runs of one stack may differ only in {', '.join(PER_RUN_FIELDS)}; "
                          f"group them with stack_groups() or train them apart")


def _free_locks(store: RunStore, cfgs: Sequence[RunConfig], todo: list[int]) -> dict[int, filelock.FileLock]:
    """The locks of the runs of ``todo`` that no other process holds, taken in sorted order (of config hash),
    in the caller's order."""
    held = {}
    for i in sorted(todo, key=lambda i: config_hash(cfgs[i])):
        lock = store.lock(cfgs[i])
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout:
            continue
        held[i] = lock
    return dict(sorted(held.items()))


def _wait_for(store: RunStore, cfg: RunConfig, i: int, progress: bool) -> dict[int, filelock.FileLock]:
    """Every run left is another process's: wait for the first one's lock (holding no other)."""
    if progress:
        print(f"{run_name(cfg)}: another process is training this run; waiting for it", file=sys.stderr)
    lock = store.lock(cfg)
    lock.acquire()
    return {i: lock}


def _train_held(store: RunStore, cfgs: dict[int, RunConfig], data: MNISTArrays | None, progress: bool,
                callbacks: Iterable[EpochCallback]) -> dict[int, Run]:
    """Train the runs whose locks this process holds, as one stack (or alone); their runs by index."""
    first = next(iter(cfgs.values()))
    device = resolve_device(first.device)
    arrays = data if data is not None else load_mnist()
    jobs = [Job(cfg, run_tensors(cfg, arrays, device)) for cfg in cfgs.values()]  # refuses a bad setting first
    # A stacked run's numbers depend on its stack (the order of a grouped convolution's sums): say which.
    hashes = [config_hash(job.cfg) for job in jobs]
    stacked = {"stack": len(jobs), "stacked_with": hashes} if len(jobs) > 1 else {}
    together = _last_trained_together(store, jobs, hashes) if len(jobs) > 1 else None
    with _subnormals_flushed() as flushed:
        status = {**run_status(device, arrays), **stacked, "subnormals_flushed": flushed}
        opened = [store.begin(job.cfg, status, map_location=device) for job in jobs]
        states = [state for _, state, _ in opened]
        if together:
            states = _one_epoch(store, together, states, device)
        members = [_Member(job, path, job.resume(state), [HealthWarnings(job.cfg.epochs), *callbacks])
                   for job, (path, _, _), state in zip(jobs, opened, states)]
        _train_members(members, store, progress)
    return {i: store.finish(path, st) for i, (path, _, st) in zip(cfgs, opened)}


@contextlib.contextmanager
def _subnormals_flushed():
    """Train with the CPU's subnormal floats read and written as zero; yields whether the CPU can.

    Weight decay that collapses a run shrinks its weights below 1.2e-38, where every multiply takes the
    CPU's slow path, and a stack is as slow as its slowest member: 8 LeNet-5 runs stacked with two
    collapsed at λ = 0.1 and 0.03 took 35 s a run-epoch, healthy stacks 4.3 s. The healthy runs' weights
    checked held no subnormal; a value that underflows becomes 0 instead. The flag is the calling
    thread's (the report trains each run on one thread), cleared afterwards."""
    flushed = torch.set_flush_denormal(True)
    try:
        yield flushed
    finally:
        torch.set_flush_denormal(False)


def _last_trained_together(store: RunStore, jobs: list[Job], hashes: list[str]) -> list[Run] | None:
    """The stored runs of ``jobs`` if every one is stored, last trained in a stack of these very runs."""
    stored = [store.find(job.cfg) for job in jobs]
    together = all(run is not None and sorted(run.status.get("stacked_with") or []) == sorted(hashes)
                   for run in stored)
    return stored if together else None


def _epoch(state: dict | None) -> int:
    return state["history"][-1]["epoch"] if state and state["history"] else 0


def _one_epoch(store: RunStore, stored: list[Run], states: list[dict | None], device) -> list[dict | None]:
    """The resume states of a stack that a kill left between two runs' saves of one epoch: those that stored
    it resume from the epoch before (their ``previous.pt``; for a first epoch, their start), so the whole
    stack trains that epoch again as it first did. (Catching up alone would give the runs behind other last
    bits: a stack's sums run in an order of its own.)"""
    low = min(_epoch(state) for state in states)
    states = list(states)
    for i, (run, state) in enumerate(zip(stored, states)):
        if _epoch(state) != low + 1:
            continue
        kept = store.previous(run.path, map_location=device)
        if _epoch(kept) == low and (kept is not None or not run.status.get("continued_from")):
            states[i] = kept
    return states


class _Member:
    """A run being trained: its job, folder, history so far and epoch callbacks."""

    def __init__(self, job: Job, path, history: list[dict], callbacks: list[EpochCallback]):
        self.job, self.path, self.history, self.callbacks = job, path, history, callbacks

    @property
    def done(self) -> int:
        return self.history[-1]["epoch"] if self.history else 0


def _train_members(members: list[_Member], store: RunStore, progress: bool) -> None:
    epochs = members[0].job.cfg.epochs
    done = min(member.done for member in members)
    bar = _progress_bar(members, epochs, done) if progress else None
    group = None
    for epoch in range(done + 1, epochs + 1):
        active = [member for member in members if member.done < epoch]  # those behind catch up first
        if group is None or [m.job for m in active] != group.jobs:
            group = group_of([member.job for member in active])  # from each run's own model and optimizer
        began = time.perf_counter()
        metrics = train_epoch(group, epoch)
        rows = [member.job.evaluate(epoch, began, train=m) for member, m in zip(active, metrics)]
        share = (time.perf_counter() - began) / len(active)  # each run's share of the epoch
        saved = []
        for member, row in zip(active, rows):
            member.history.append({**row, "seconds": share})
            saved.append(store.save_epoch(member.path, member.job.cfg, member.job.checkpoint(epoch, member.history),
                                          keep_previous=len(members) > 1))
        for member, run in zip(active, saved):  # after every run has stored the epoch
            for callback in member.callbacks:
                callback(run, member.history[-1])
        if bar is not None:
            bar.update(1)
            accuracies = [row["test_acc"] for row in rows]
            bar.set_postfix(loss=f"{rows[0]['train_loss']:.4f}", test_acc=f"{accuracies[0]:.2f}") if len(rows) == 1 \
                else bar.set_postfix(test_acc=f"{min(accuracies):.2f}–{max(accuracies):.2f}")
    if bar is not None:
        bar.close()


def _progress_bar(members: list[_Member], epochs: int, done: int):
    from tqdm.auto import tqdm

    name = members[0].path.name if len(members) == 1 else f"{len(members)} runs stacked"
    return tqdm(total=epochs, initial=done, desc=name, unit="epoch", leave=True)
