"""The report's runs on a real Dask cluster: a scheduler and workers started as processes here,
a worker killed mid-run, and the problems that must stop a report before any training."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from mnistlib import RunConfig, RunStore, train
from mnistlib.training.cluster import train_many
from mnistlib.errors import MnistlibError

DASK = str(Path(sys.executable).parent / "dask")
BLOCK_MNISTLIB = '''
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name == "mnistlib" or name.startswith("mnistlib."):
            raise ImportError("No module named 'mnistlib' (blocked for the test)")
sys.meta_path.insert(0, _Block())
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """`dask scheduler` and `dask worker` processes on localhost, each in its own process group."""

    def __init__(self, tmp_path: Path):
        self.tmp, self.procs, self.workers = tmp_path, [], []
        self.address = f"tcp://127.0.0.1:{free_port()}"
        self._start([DASK, "scheduler", "--host", "127.0.0.1", "--port", self.address.rsplit(":", 1)[1],
                     "--no-dashboard"])

    def _start(self, argv) -> subprocess.Popen:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        log = open(self.tmp / f"dask-{len(self.procs)}.log", "w")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, start_new_session=True)
        self.procs.append(proc)
        return proc

    def worker(self, *extra: str) -> subprocess.Popen:
        proc = self._start([DASK, "worker", self.address, "--nthreads", "1", "--no-dashboard", *extra])
        self.workers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and its nanny, no chance to clean up
        proc.wait()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture
def cluster(tmp_path):
    running = Cluster(tmp_path)
    yield running
    running.close()


# Preloaded into each worker: every epoch lasts a little longer than its training, so the kill lands mid-run.
# (Dask may run a preload twice: the patch goes on once.)
SLOW_EPOCHS = '''
import time
import mnistlib.training.lifecycle as lifecycle
if not hasattr(lifecycle, "unslowed_train_epoch"):
    lifecycle.unslowed_train_epoch = lifecycle.train_epoch
    lifecycle.train_epoch = lambda group, epoch: (time.sleep(0.3), lifecycle.unslowed_train_epoch(group, epoch))[1]
'''


def test_a_grid_survives_a_killed_worker_and_equals_runs_trained_alone(cluster, tmp_path, mnist):
    slow = tmp_path / "slow_epochs.py"
    slow.write_text(SLOW_EPOCHS)
    victim = cluster.worker("--preload", str(slow))
    cluster.worker("--preload", str(slow))
    store = tmp_path / "store"
    configs = {f"seed {s}": RunConfig(model="CustomMLP_6", epochs=6, seed=s, train_subset=2000, test_subset=500)
               for s in range(3)}
    killed = []

    def kill_mid_run():  # once a run has stored an epoch but not all: the victim is mid-run
        deadline = time.time() + 240
        while time.time() < deadline:
            runs = [RunStore(store).find(cfg) for cfg in configs.values()]
            if any(run is not None and 1 <= run.epochs_done < 6 for run in runs):
                cluster.kill(victim)
                killed.append(sorted(run.epochs_done for run in runs if run is not None))
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_mid_run)
    killer.start()
    lines = []
    names = train_many(configs, runs_dir=store, log=lines.append, stack=1, scheduler=cluster.address)
    killer.join()
    assert killed, "no worker was killed mid-run"
    assert lines[0].startswith(f"training 3 runs (0 already stored or repeated) on {cluster.address}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for label, cfg in configs.items():
            alone = train(cfg, store=RunStore(tmp_path / "alone"), data=mnist, progress=False)
            there = RunStore(store).load(names[label])
            assert there.finished
            assert there.history.drop(columns="seconds").equals(alone.history.drop(columns="seconds")), label
    finally:
        torch.set_num_threads(threads)


def test_an_unreachable_scheduler_is_one_line_before_any_training(tmp_path, capsys, monkeypatch):
    import mnistlib.training.cluster as cluster
    from mnistlib.cli import main

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", "1s")  # nobody listens: no need to wait the full 10 s

    configs = {"x": RunConfig(model="CustomMLP_6", epochs=1, train_subset=100, test_subset=100)}
    with pytest.raises(MnistlibError, match=r"cannot reach the Dask scheduler at tcp://127.0.0.1:\d+ .*dask scheduler"):
        train_many(configs, runs_dir=tmp_path, scheduler=f"tcp://127.0.0.1:{free_port()}", log=lambda line: None)
    assert not RunStore(tmp_path).run_folders()
    os.environ["MNISTLIB_SCHEDULER"] = f"tcp://127.0.0.1:{free_port()}"  # the environment's address is used too
    try:
        assert main(["report", "--profile", "smoke", "--no-progress", "--reports-dir", str(tmp_path / "r")]) == 1
    finally:
        del os.environ["MNISTLIB_SCHEDULER"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in err if "cannot reach the Dask scheduler" in line]) == 1, err


def test_a_worker_without_mnistlib_is_one_line_before_any_training(cluster, tmp_path):
    blocker = tmp_path / "block_mnistlib.py"
    blocker.write_text(BLOCK_MNISTLIB)
    cluster.worker("--preload", str(blocker))
    configs = {"x": RunConfig(model="CustomMLP_6", epochs=1, train_subset=100, test_subset=100)}
    with pytest.raises(MnistlibError, match="cannot train these runs: mnistlib there is not importable"):
        train_many(configs, runs_dir=tmp_path / "store", scheduler=cluster.address, log=lambda line: None)
    assert not RunStore(tmp_path / "store").run_folders()


def test_the_progress_bar_counts_every_epoch_across_workers(tmp_path, capfd, dask_scheduler):
    configs = {f"s{s}": RunConfig(model="CustomMLP_6", epochs=3, seed=s, train_subset=600, test_subset=300)
               for s in range(3)}
    configs["longer"] = RunConfig(model="CustomMLP_6", epochs=5, train_subset=600, test_subset=300)  # continues s0
    lines = []
    train_many(configs, runs_dir=tmp_path, log=lines.append, progress=True, stack=1, scheduler=dask_scheduler)
    bar = capfd.readouterr().err.replace("\r", "\n")
    assert "11/11" in bar, bar  # 3 runs × 3 epochs, and the longer run's 2 beyond s0's
    assert lines[0] == f"training 4 runs (0 already stored or repeated) on {dask_scheduler}, 4 stacks"
    assert len(lines) == 5


def test_local_workers_keep_glibcs_adaptive_malloc_no_profiler_and_one_task_each(monkeypatch):
    """Dask's default MALLOC_TRIM_THRESHOLD_ makes every large buffer an mmap (bench_worker_env.py);
    the LocalCluster leaves it out, its workers' profiler off, and gives a worker a task only when free."""
    import dask

    from mnistlib.training.cluster import connect

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    client, local = connect(None, 1)
    try:
        (env,) = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_")).values()
        (profile,) = client.run(lambda: dask.config.get("distributed.worker.profile.enabled")).values()
        saturation = client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.WORKER_SATURATION)
        assert env is None and profile is False and saturation == 1.0
    finally:
        client.close()
        local.close()
    assert dask.config.get("distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_") == 65536  # only for ours


def test_a_free_worker_takes_the_longest_stack_left_and_a_continuation_as_soon_as_its_base_is_done(monkeypatch):
    """On a real scheduler with the LocalCluster's settings, two one-thread workers: the longest stack
    runs alone on one worker while the other works through every shorter stack, longest first (tasks
    submitted one by one went to workers before the rest arrived: a short stack waited behind the
    longest); a run continuing a shorter one starts once its base is done, ahead of stacks still queued."""
    import dask
    from distributed import Client, LocalCluster, get_worker

    import mnistlib.training.cluster as cluster

    def fake_train_group(labels, cfgs, runs_dir, data_dir, threads, *after):  # says where and when it began
        began = (time.monotonic(), get_worker().name)
        time.sleep(0.02 * cfgs[0].epochs)
        return [(label, began, 0.0, "ok") for label in labels]

    monkeypatch.setattr(cluster, "train_group", fake_train_group)  # in-process workers run this one
    run = lambda epochs, seed: RunConfig(model="CustomMLP_6", epochs=epochs, seed=seed, train_subset=600)  # noqa: E731
    todo = {f"e{epochs}": run(epochs, seed=epochs) for epochs in (10, 12, 8, 100, 6, 9, 5, 7)}
    todo["e30"] = run(30, seed=10)  # continues e10
    waits_for = cluster._bases(todo)
    assert waits_for == {"e30": "e10"}
    groups = [[label] for label in todo if label != "e30"]
    with dask.config.set(cluster.LOCAL_CONFIG), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as local, \
            Client(local) as client:
        futures = cluster._submit(client, todo, groups, waits_for, (None, None, 1))
        began = {label: rows[0][1] for label, rows in zip(futures, client.gather(list(futures.values())))}
    ran = [(worker, label) for label, (_, worker) in sorted(began.items(), key=lambda item: item[1][0])]
    longest_worker = dict((label, worker) for worker, label in ran)["e100"]
    assert [label for worker, label in ran if worker == longest_worker] == ["e100"]
    others = [label for worker, label in ran if worker != longest_worker]
    assert others == ["e12", "e10", "e30", "e9", "e8", "e7", "e6", "e5"]


def test_the_quick_profiles_stacks_go_in_one_graph_longest_first(tmp_path):
    """The quick profile's stacks go to Dask as one graph, longest first (Dask keeps one graph's order);
    each run continuing another comes after, with a higher priority."""
    from mnistlib.training.cluster import _bases, _cost, _pending, _submit
    from mnistlib.report.grids import flat, flat_beyond
    from mnistlib.report.context import check_parameters
    from mnistlib.training.loop import stack_groups

    class Recorder:  # stands in for a Client: keeps what each task was submitted with
        def __init__(self):
            self.tasks = []

        def submit(self, fn, labels, cfgs, *args, priority, pure):
            self.tasks.append((sum(_cost(c) for c in cfgs), priority))
            return object()

        def map(self, fn, labels, cfgs, pure, **where):
            self.tasks += [(sum(_cost(c) for c in stack), 0) for stack in cfgs]
            return [object() for _ in labels]

    s = check_parameters(profile="quick")
    todo, _, _ = _pending({**flat(s.grid), **flat_beyond(s.beyond), **flat_beyond(s.reproduce)}, RunStore(tmp_path))
    waits_for = _bases(todo)
    groups = stack_groups({k: v for k, v in todo.items() if k not in waits_for}, parts=2)
    client = Recorder()
    _submit(client, todo, groups, waits_for, (None, None, 1))
    assert len(client.tasks) == len(groups) + len(waits_for) > 10
    ready = [cost for cost, _ in client.tasks[:len(groups)]]
    assert ready == sorted(ready, reverse=True) and ready[0] > ready[-1]
    assert all(priority > 0 for _, priority in client.tasks[len(groups):])


def test_parallel_workers_equal_single_thread_runs(mnist, tmp_path, dask_scheduler):
    """train_many on Dask workers (1 thread each) gives the histories of in-process 1-thread runs."""
    configs = {f"mlp{s}": RunConfig(model="CustomMLP_6", epochs=2, seed=s, train_subset=1200, test_subset=300)
               for s in range(2)}
    names = train_many(configs, runs_dir=tmp_path / "parallel", log=lambda line: None, stack=1,
                       scheduler=dask_scheduler)
    assert set(names) == set(configs)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for label, cfg in configs.items():
            alone = train(cfg, store=RunStore(tmp_path / "alone"), data=mnist, progress=False)
            together = RunStore(tmp_path / "parallel").load(names[label])
            assert together.history.drop(columns="seconds").equals(alone.history.drop(columns="seconds"))
    finally:
        torch.set_num_threads(threads)
    # finished runs are not trained again
    logged = []
    train_many(configs, runs_dir=tmp_path / "parallel", log=logged.append, scheduler=dask_scheduler)
    assert logged == []
