"""The run store is safe to share: one process trains a run, the others wait and read it, and a
killed holder never blocks it."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd

from mnistlib import RunConfig, RunStore

# Each epoch lasts a little longer than its training (the callback waits), so the other process
# and a kill find the run in the middle.
SCRIPT = textwrap.dedent("""
    import os, sys, time
    from mnistlib import RunConfig, RunStore, train
    cfg = RunConfig(model="CustomMLP_6", epochs=int(sys.argv[3]), train_subset=2000, test_subset=500)
    def mark(run, row):
        open(sys.argv[2], "a").write(f"{os.getpid()} {row['epoch']}\\n")
        time.sleep(0.3)
    train(cfg, store=RunStore(sys.argv[1]), progress=False, callbacks=[mark])
""")
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def start(tmp_path, epochs, marker="marks.txt"):
    return subprocess.Popen([sys.executable, "-c", SCRIPT, str(tmp_path / "runs"), str(tmp_path / marker), str(epochs)],
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def marks(tmp_path, marker="marks.txt"):
    path = tmp_path / marker
    return [tuple(map(int, line.split())) for line in path.read_text().splitlines()] if path.exists() else []


def test_two_processes_asking_for_one_run_train_it_once(tmp_path):
    first, second = start(tmp_path, 4), start(tmp_path, 4)
    assert first.wait(timeout=300) == 0, first.stderr.read()
    assert second.wait(timeout=300) == 0, second.stderr.read()
    trained = marks(tmp_path)
    assert [epoch for _, epoch in trained] == [1, 2, 3, 4]  # each epoch once
    assert len({pid for pid, _ in trained}) == 1  # by one process; the other waited and read it
    cfg = RunConfig(model="CustomMLP_6", epochs=4, train_subset=2000, test_subset=500)
    assert RunStore(tmp_path / "runs").find(cfg).finished


def test_a_killed_holder_does_not_block_the_run(tmp_path):
    holder = start(tmp_path, 8)
    deadline = time.time() + 180
    while time.time() < deadline and not marks(tmp_path):
        time.sleep(0.05)
    holder.send_signal(signal.SIGKILL)  # no chance to release anything
    holder.wait()
    stored = [epoch for _, epoch in marks(tmp_path)]
    assert 1 <= len(stored) < 8, "the holder should have been killed part-way"
    successor = start(tmp_path, 8)
    assert successor.wait(timeout=300) == 0, successor.stderr.read()
    resumed = [epoch for pid, epoch in marks(tmp_path) if pid == successor.pid]
    assert resumed and resumed[0] <= stored[-1] + 1 and resumed[-1] == 8
    cfg = RunConfig(model="CustomMLP_6", epochs=8, train_subset=2000, test_subset=500)
    history = RunStore(tmp_path / "runs").find(cfg).history
    assert list(history.epoch) == list(range(1, 9)) and not history.isna().any().any()
    pd.testing.assert_index_equal(history.columns, pd.Index(["epoch", "train_loss", "train_acc", "test_loss",
                                                              "test_acc", "seconds"]))


def test_a_run_locked_elsewhere_leaves_the_stack_and_is_read_at_the_end(tmp_path, mnist):
    from mnistlib.training.lifecycle import train_stack

    holder = start(tmp_path, 6)  # trains seed 0 in another process
    deadline = time.time() + 180
    while time.time() < deadline and not marks(tmp_path):
        time.sleep(0.05)
    cfgs = [RunConfig(model="CustomMLP_6", epochs=6, train_subset=2000, test_subset=500, seed=s) for s in (0, 1, 2)]
    runs = train_stack(cfgs, store=RunStore(tmp_path / "runs"), data=mnist, progress=False)
    assert holder.wait(timeout=300) == 0, holder.stderr.read()
    assert [epoch for pid, epoch in marks(tmp_path) if pid == holder.pid] == [1, 2, 3, 4, 5, 6]  # only it trained seed 0
    assert all(run.finished for run in runs)
    assert '"stack": 2' in (runs[1].path / "run.json").read_text() and '"stack"' not in (runs[0].path / "run.json").read_text()
