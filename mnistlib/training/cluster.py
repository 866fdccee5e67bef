"""Train many runs at once on a Dask cluster: a LocalCluster of one worker process per core by
default, or any cluster a scheduler address names (``mnistlib report --scheduler tcp://HOST:8786``).

The unit of work is a stack (:func:`mnistlib.training.lifecycle.train_stack`): runs that share an architecture and
train as one model, or a single run. Dask does the scheduling: longest stacks first
(one graph, in that order), a run that continues a shorter one as a task taking the shorter
one's future (``priority=`` puts it ahead of the stacks still queued),
a task of a worker that dies re-run elsewhere. Runs go through the run store as usual: a finished
run is skipped, an interrupted one resumes, and each run's lock (:meth:`RunStore.lock`) makes
one process train it even when two clusters share the store.

Floating-point sums depend on the thread count and on stacking, so a run trained here matches
the same run trained alone with two threads to about 1e-6 after an epoch, not bit for bit (see
README, Performance).
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import time
import warnings
from pathlib import Path
from typing import Callable, Mapping

import torch

from ..data.cache import training_images
from ..data.mnist import load_mnist
from ..errors import MnistlibError, RunHealthWarning
from ..store.identity import config_hash
from ..runconfig import RunConfig
from ..store.store import RunStore, continues
from .._util.machine import cores
from .lifecycle import train_stack
from .loop import MAX_STACK, stack_groups

LENET_COST = 8.0  # a LeNet-5 image costs about this many MLP images at batch 64 (benchmarks/bench_training.py)
# A step's fixed cost, in images' worth of work: small batches cost more per image. Fitted to one-run rates of
# benchmarks/bench_stacking.py: LeNet-5 2,113 images/s at batch 10 and 4,728 at 64; CustomMLP_6 11,661 and 43,674.
STEP_IMAGES = {"LeNet5": 19.0, "MLP": 67.0}
# The LocalCluster's Dask settings (README, Beyond one machine, shows them as a config file for a cluster of your
# own). Workers keep glibc's adaptive mmap threshold: with Dask's MALLOC_TRIM_THRESHOLD_=65536 every buffer over
# 128 KiB (a batch's activations) is a fresh mmap and page faults, every step (benchmarks/bench_worker_env.py).
# No statistical profiler: it samples every 10 ms for a dashboard panel nobody reads. And a worker takes its next
# task only when its thread is free (worker-saturation 1.0; Dask's 1.1 gives a one-thread worker two), so no stack
# waits behind another on a busy worker while a free one takes a shorter task.
LOCAL_CONFIG = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
                "distributed.worker.profile.enabled": False,
                "distributed.scheduler.worker-saturation": 1.0}
SCHEDULER_ENV = "MNISTLIB_SCHEDULER"
CONNECT_TIMEOUT = "10s"  # how long to try a scheduler's address before saying it cannot be reached
EPOCH_TOPIC = "mnistlib-epoch"


def _cost(cfg: RunConfig) -> float:
    # Relative cost per image (LeNet-5 against an MLP: README, Performance); long jobs first keeps every
    # worker busy to the end.
    lenet = cfg.model.startswith("LeNet5")
    step = STEP_IMAGES["LeNet5" if lenet else "MLP"]
    per_image = (LENET_COST if lenet else 1.0) * (1 + step / cfg.batch_size) / (1 + step / 64)
    return per_image * cfg.epochs * training_images(cfg)


def _publish_epoch(run, row) -> None:
    """Epoch callback on a worker: tell the client, whose progress bar counts epochs across workers."""
    from distributed import get_worker

    try:
        get_worker().log_event(EPOCH_TOPIC, {"run": run.name, "epoch": int(row["epoch"])})
    except ValueError:  # not on a Dask worker (a direct call): nobody to tell
        pass


def train_group(labels: list[str], cfgs: list[RunConfig], runs_dir: str | None, data_dir: str | None,
                threads: int, *after) -> list[tuple[str, str, float, str]]:
    """The Dask task: train ``cfgs`` as one stack on this worker; ``after``: futures it waits for.
    Returns (label, run folder, seconds, health) per run."""
    torch.set_num_threads(threads)
    # train() warns about collapsed runs; here the client logs each run's health instead
    warnings.filterwarnings("ignore", category=RunHealthWarning)
    start = time.perf_counter()  # load_mnist decodes once per worker process: later tasks reuse the arrays
    runs = train_stack(cfgs, store=RunStore(runs_dir), data=load_mnist(data_dir), progress=False,
                       callbacks=[_publish_epoch])
    seconds = time.perf_counter() - start
    return [(label, run.path.name, seconds, str(run.health)) for label, run in zip(labels, runs)]


def _pending(configs: Mapping[str, RunConfig], store: RunStore) -> tuple[dict, dict, dict]:
    """(label -> config still to train, config hash -> every label asking for it, label -> stored run folder)."""
    todo: dict[str, RunConfig] = {}
    labels: dict[str, list[str]] = {}
    done: dict[str, str] = {}
    for label, cfg in configs.items():
        key = config_hash(cfg)
        if key in labels:
            labels[key].append(label)
        elif (stored := store.find_finished(cfg)) is not None:
            done[label] = stored.path.name
        else:
            labels[key] = [label]
            todo[label] = cfg
    for key, names in labels.items():
        if names[0] not in todo:  # a duplicate of a stored run
            done.update({name: store.path_for(configs[name]).name for name in names})
    return todo, labels, done


def connect(scheduler: str | None, workers: int):
    """(client, local cluster or None): the cluster at ``scheduler``, checked to have workers that
    run this mnistlib, or a LocalCluster of ``workers`` single-threaded processes. Raises
    MnistlibError (one line) before any training when the scheduler or its workers will not do."""
    import dask
    from distributed import Client, LocalCluster

    if not scheduler:
        dashboard = ":0" if importlib.util.find_spec("bokeh") else None  # the dashboard needs bokeh
        with dask.config.set(LOCAL_CONFIG):
            # CRITICAL: a worker whose heartbeat meets the scheduler closing logs a traceback at ERROR after
            # every run has finished; a failed run reaches the caller through its future, not through the logs.
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=dashboard, silence_logs=logging.CRITICAL)
        return Client(cluster), cluster
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        raise MnistlibError(f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with `dask scheduler`, "
                            f"or leave out --scheduler and ${SCHEDULER_ENV} to train on this machine") from None
    try:
        _check_workers(client, scheduler)
    except BaseException:
        client.close()
        raise
    return client, None


def _check_workers(client, scheduler: str) -> None:
    from .._version import __version__

    try:
        client.wait_for_workers(1, timeout=30)
    except (TimeoutError, OSError):
        raise MnistlibError(f"the Dask scheduler at {scheduler} has no workers; start them with: "
                            f"dask worker {scheduler} --nthreads 1") from None

    def probe():  # defined here, so Dask sends it by value: it runs where mnistlib is missing too
        try:
            import mnistlib
            return mnistlib.__version__
        except ImportError as exc:
            return f"not importable ({exc})"

    for worker, version in sorted(client.run(probe).items()):
        if version != __version__:
            raise MnistlibError(f"Dask worker {worker} cannot train these runs: mnistlib there is {version}, "
                                f"here {__version__}; install this clone on every worker (pip install -e .)")


def train_many(configs: Mapping[str, RunConfig], workers: int | None = None, *, data_dir: str | Path | None = None,
               runs_dir: str | Path | None = None, log: Callable[[str], None] = print, stack: int = MAX_STACK,
               scheduler: str | None = None, progress: bool = False) -> dict[str, str]:
    """Train every config not yet finished in the store on a Dask cluster; returns label -> run folder.

    ``scheduler``: a Dask scheduler's address (default ``$MNISTLIB_SCHEDULER``; none: a LocalCluster
    of ``workers`` processes, by default one per core, or 1 when CUDA is present). Its workers need
    this mnistlib and the run store's folder at the same path (a shared file system). Runs that can
    share a stack train in stacks of up to ``stack`` (1: each alone). Labels with the same config
    share one run; a longer run that can continue from a shorter one in the batch waits for it.
    ``progress``: a bar of finished epochs across all workers, on stderr.
    """
    store = RunStore(runs_dir).writable()
    todo, labels, done = _pending(configs, store)
    if not todo:
        return done
    scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
    if workers is None:
        workers = 1 if torch.cuda.is_available() else cores()
    workers = max(1, min(workers, len(todo)))
    threads = 1 if scheduler else max(1, cores() // workers)
    waits_for = _bases(todo)
    ready = {label: cfg for label, cfg in todo.items() if label not in waits_for}
    groups = stack_groups(ready, stack, parts=1 if scheduler else workers)
    with _environment_kept():
        client, cluster = connect(scheduler, workers)
        try:
            where = scheduler or (f"{workers} process{'es' if workers > 1 else ''} × "
                                  f"{threads} thread{'s' if threads > 1 else ''}")
            stacks = len(groups) + len(waits_for)
            log(f"training {len(todo)} runs ({len(configs) - len(todo)} already stored or repeated) on {where}, "
                f"{stacks} stack{'s' if stacks > 1 else ''}")
            if client.dashboard_link and importlib.util.find_spec("bokeh"):
                log(f"Dask dashboard: {client.dashboard_link}")
            bar = _epoch_bar(client, todo, waits_for, store) if progress else None
            futures = _submit(client, todo, groups, waits_for, (str(runs_dir) if runs_dir else None,
                                                                 str(data_dir) if data_dir else None, threads))
            _collect(futures, todo, labels, done, log if bar is None else _above(bar, log))
            if bar is not None:
                bar.close()
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return done


@contextlib.contextmanager
def _environment_kept():
    """Put this process's environment back as it was. A LocalCluster's nannies set OMP_NUM_THREADS=1
    (and MKL_, OPENBLAS_) here, in the client's process, for the workers they spawn; left there, what
    runs after training (the report's notebook kernels) would get one thread on a machine of many."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        os.environ.update(saved)


def _bases(todo: Mapping[str, RunConfig]) -> dict[str, str]:
    """label -> the longest shorter run of the batch it continues from (:func:`mnistlib.store.store.continues`)."""
    waits_for = {}
    for label, cfg in todo.items():
        bases = [b for b in todo if b != label and continues(cfg, todo[b])]
        if bases:
            waits_for[label] = max(bases, key=lambda b: todo[b].epochs)
    return waits_for


def _submit(client, todo, groups, waits_for, where) -> dict:
    """One Dask task per stack, longest first; a continuing run's task takes its base's future."""
    # All the stacks go in one graph (client.map), longest first: Dask runs one graph's tasks in the order given,
    # and queues them on the scheduler, a worker getting the next one when its thread is free. Tasks submitted one
    # by one would go to workers as they arrive, before the longer ones behind them.
    ordered = sorted(groups, key=lambda group: sum(_cost(todo[label]) for label in group), reverse=True)
    runs_dir, data_dir, threads = where
    stacks = client.map(train_group, ordered, [[todo[label] for label in group] for group in ordered],
                        runs_dir=runs_dir, data_dir=data_dir, threads=threads, pure=False)
    futures = {label: future for group, future in zip(ordered, stacks) for label in group}
    # A continuing run starts as soon as its base is done, ahead of the stacks still queued: it is often the
    # longest left (the 150-epoch runs).
    for label in sorted(waits_for, key=lambda x: todo[x].epochs):  # a base before what continues it
        futures[label] = client.submit(train_group, [label], [todo[label]], *where, futures[waits_for[label]],
                                       pure=False, priority=1)
    return futures


def _collect(futures: dict, todo, labels, done, log) -> None:
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    number = 0
    for future in as_completed(set(futures.values())):
        try:
            rows = future.result()
        except KilledWorker as exc:
            raise MnistlibError(f"Dask workers kept dying while training a stack ({exc}); its runs keep every "
                                f"stored epoch: run the report again once the workers are sound") from None
        for label, name, seconds, health in rows:
            number += 1
            for same in labels[config_hash(todo[label])]:
                done[same] = name
            log(f"  [{number}/{len(todo)}] {label}: {seconds / 60:.1f} min ({health})")


def _epoch_bar(client, todo: Mapping[str, RunConfig], waits_for: Mapping[str, str], store: RunStore):
    """A tqdm bar over every epoch still to train, advanced by the workers' epoch events."""
    from tqdm.auto import tqdm

    def start(label: str) -> int:  # a continuing run begins where its base ends
        if label in waits_for:
            return todo[waits_for[label]].epochs
        run = store.find(todo[label])
        return run.epochs_done if run is not None else 0

    total = sum(cfg.epochs - start(label) for label, cfg in todo.items())
    bar = tqdm(total=total, desc="epochs", unit="epoch")
    client.subscribe_topic(EPOCH_TOPIC, lambda event: bar.update(1))
    return bar


def _above(bar, log: Callable[[str], None]) -> Callable[[str], None]:
    """``log``, writing above the progress bar instead of through it."""
    def write(line: str) -> None:
        with bar.external_write_mode():
            log(line)
    return write
