"""Stacked training: each run of a stack gets the history it gets alone (within the stated
tolerance), its own checkpoints, and a resume that is bit-identical to an uninterrupted stack; the stack
steps torch's own optimizer, SGD doing exactly the arithmetic of the stacked SGD it replaced."""
import os

import pandas as pd
import pytest
import torch

from mnistlib import ConfigError, RunConfig, RunStore, build_model, train
from mnistlib.training.cluster import train_many
from mnistlib.data.cache import run_tensors
from mnistlib.models.stacked import stack_model
from mnistlib.training.job import Job
from mnistlib.training.lifecycle import train_stack
from mnistlib.training.loop import Stack, stack_groups, stack_key

TINY = dict(train_subset=1000, test_subset=500, subset_mode="stratified")
# The stated tolerance: a stacked run against the same run trained alone (README, Performance).
# relative loss; accuracy in percentage points: one test image of 500 is 0.2 here, and a difference of 87.8 − 87.6
# computes to 0.2000000000000028, hence the last term
LOSS_RTOL, ACC_ATOL = 1e-4, 0.2 + 1e-9


def metrics(run):
    return run.history.drop(columns="seconds")


def assert_within_tolerance(alone, stacked):
    """Same epochs; losses within LOSS_RTOL of each other, accuracies within ACC_ATOL points."""
    a, b = metrics(alone), metrics(stacked)
    assert list(a.epoch) == list(b.epoch)
    for column in ("train_loss", "test_loss"):
        pd.testing.assert_series_equal(a[column], b[column], rtol=LOSS_RTOL, atol=0)
    for column in ("train_acc", "test_acc"):
        assert (a[column] - b[column]).abs().max() <= ACC_ATOL, (column, a[column].tolist(), b[column].tolist())


@pytest.mark.parametrize("name", ["LeNet5", "LeNet5-lecun", "LeNet5-relu", "LeNet5-subsampling", "CustomMLP_1",
                                  "CustomMLP_6"])
def test_the_stacked_model_computes_each_run(name):
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(build_model(name))
        for module in models[-1].modules():  # the subsampling's coefficients start alike: make each run's its own
            if type(module).__name__ == "Subsampling":
                torch.nn.init.normal_(module.weight)
                torch.nn.init.normal_(module.bias)
    stacked, pairs = stack_model(models)
    x = torch.randn(3, 5, 1, 32, 32)  # run, batch, image
    out = stacked(x.transpose(0, 1).reshape(5, 3, 32, 32)).view(5, 3, 10).transpose(0, 1)
    for k, model in enumerate(models):
        torch.testing.assert_close(out[k], model(x[k]), rtol=1e-5, atol=1e-5)
    assert sum(p.numel() for p, _ in pairs) == 3 * sum(p.numel() for p in models[0].parameters())
    assert all(len(own) == 3 for _, own in pairs)


class StackedSGDAt0c5081e:
    """The stacked SGD of mnistlib at 0c5081e (before the stack stepped torch's optimizer), its arithmetic verbatim:
    torch's SGD (momentum, no dampening or Nesterov) over the stacked parameters, one weight decay per run."""

    def __init__(self, params, momentum, weight_decays):
        self.params, self.momentum, self.runs = params, momentum, len(weight_decays)
        self.decay = torch.tensor(weight_decays).view(-1, 1) if any(weight_decays) else None
        self.buffers = [None] * len(params)

    @torch.no_grad()
    def step(self, lr):
        for i, param in enumerate(self.params):
            flat = param.view(self.runs, -1)
            grad = param.grad.reshape(self.runs, -1)
            if self.decay is not None:
                grad = grad + self.decay * flat
            if self.momentum:
                if self.buffers[i] is None:
                    self.buffers[i] = grad.clone()
                else:
                    self.buffers[i].mul_(self.momentum).add_(grad)
                grad = self.buffers[i]
            flat.add_(grad, alpha=-lr)


@pytest.mark.parametrize("model", ["LeNet5", "CustomMLP_6"])
def test_torch_sgd_with_the_decay_on_the_gradient_is_the_stacked_sgd_it_replaced(mnist, model):
    """100 steps, weight decays 0, 1e-3 and 1e-2: the stack's step (grad + λ·w, then torch's SGD with no decay
    of its own) gives the very same weights as 0c5081e's stacked SGD: torch.equal, no tolerance."""
    cfgs = [RunConfig(model=model, seed=s, weight_decay=wd, **TINY) for s, wd in ((0, 0.0), (1, 1e-3), (2, 1e-2))]
    stack = Stack([Job(cfg, run_tensors(cfg, mnist, torch.device("cpu"))) for cfg in cfgs])
    params = [param for param, _ in stack.pairs]
    reference = [param.detach().clone() for param in params]
    old = StackedSGDAt0c5081e(reference, 0.9, [cfg.weight_decay for cfg in cfgs])
    draw = torch.Generator().manual_seed(0)
    for step in range(100):
        x = torch.randn(4, 3, 32, 32, generator=draw) if model == "LeNet5" else torch.randn(4, 3 * 1024, generator=draw)
        labels = torch.randint(0, 10, (4 * 3,), generator=draw)
        stack.optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(stack.model(x).reshape(4 * 3, 10), labels).backward()
        for mine, theirs in zip(params, reference):
            theirs.grad = mine.grad.clone()
        stack.step()
        old.step(cfgs[0].lr)
        assert all(torch.equal(mine, theirs) for mine, theirs in zip(params, reference)), step
    initial = [torch.cat([p.detach().reshape(-1) for p in own]) for _, own in stack.pairs]  # the runs' own, untouched
    assert all(torch.isfinite(p).all() for p in params)
    assert not any(torch.equal(p.reshape(-1), q) for p, q in zip(params, initial))  # 100 steps moved every tensor


def test_a_stack_gathers_and_gives_back_each_runs_optimizer_state(mnist):
    """Adam's moments and step count go from each run's own optimizer into the stack and back unchanged."""
    cfgs = [RunConfig(model="CustomMLP_6", seed=s, optimizer="adam", lr=1e-3, **TINY) for s in (0, 1)]
    jobs = [Job(cfg, run_tensors(cfg, mnist, torch.device("cpu"))) for cfg in cfgs]
    for job in jobs:  # one step each, alone, so every run has a state of its own
        job.optimizer.zero_grad()
        job.model(job.train_data.x_train[:8]).square().sum().backward()
        job.optimizer.step()
    before = [{k: {n: v.clone() for n, v in st.items()} for k, st in job.optimizer.state_dict()["state"].items()}
              for job in jobs]
    stack = Stack(jobs)
    stack.sync()
    for job, saved in zip(jobs, before):
        after = job.optimizer.state_dict()["state"]
        assert saved.keys() == after.keys()
        assert all(torch.equal(saved[k][n], after[k][n]) for k in saved for n in saved[k])


SMALL = dict(TINY, train_subset=400)  # the original's protocol: batch 10, so 40 steps an epoch
CASES = {
    "the original's protocol, fixed noise, weight decay": [RunConfig.preset("original", model="LeNet5", epochs=2, seed=s,
                                                                  weight_decay=wd, noise_std=ns, **SMALL)
                                                 for s, wd, ns in ((0, 0, 0), (1, 0.01, 0), (2, 0, 0.2))],
    "batch 64, shifts, cosine": [RunConfig(model="CustomMLP_1", epochs=3, seed=s, shift=sh, schedule="cosine",
                                           lr=0.1, **TINY) for s, sh in ((0, 0), (1, 2))],
    "the paper's subsampling, weight decay": [RunConfig(model="LeNet5-subsampling", epochs=2, seed=s, weight_decay=wd,
                                                        lr=0.1, **TINY) for s, wd in ((0, 0.0), (1, 1e-3))],
    # notebook 8's kind of run: Adam, one-cycle, label smoothing, a curve inside its epochs, each run its own decay
    "Adam, one-cycle, label smoothing, a curve": [
        RunConfig(model="LeNet5-relu-silu", epochs=2, seed=s, optimizer="adam", schedule="one-cycle", lr=3e-3,
                  one_cycle_warmup=0.15, batch_size=32, label_smoothing=0.1, eval_every=7, weight_decay=wd, **TINY)
        for s, wd in ((0, 0.0), (1, 1e-4), (2, 0.0))],
    # AdamW: each run's decoupled weight decay on its own rows of the stacked weights
    "AdamW, one-cycle, its own decoupled decay": [
        RunConfig(model="LeNet5-relu-silu", epochs=2, seed=s, optimizer="adamw", schedule="one-cycle", lr=3e-3,
                  one_cycle_warmup=0.15, batch_size=32, weight_decay=wd, **TINY)
        for s, wd in ((0, 0.05), (1, 0.0), (2, 0.5))],
    # dropout before F6, each run's masks from its own generator
    "Adam, one-cycle, dropout": [
        RunConfig(model="LeNet5-relu-silu", epochs=2, seed=s, optimizer="adam", schedule="one-cycle", lr=3e-3,
                  one_cycle_warmup=0.15, batch_size=32, dropout=0.3, **TINY) for s in (0, 1, 2)],
    # the one-epoch screen's models: a squashing after C5, SiLU after pooling (no parameters of their own)
    "Adam, one-cycle, SiLU after pooling and C5": [
        RunConfig(model="LeNet5-silu-silu-c5silu", epochs=2, seed=s, optimizer="adam", schedule="one-cycle", lr=3e-3,
                  one_cycle_warmup=0.15, batch_size=8, **TINY) for s in (0, 1)],
    # a moving average of the weights, which every evaluation reads
    "Adam, one-cycle, a weight average, a curve": [
        RunConfig(model="LeNet5-relu-silu", epochs=2, seed=s, optimizer="adam", schedule="one-cycle", lr=3e-3,
                  one_cycle_warmup=0.15, batch_size=32, average=0.9, eval_every=7, **TINY) for s in (0, 1)],
}


@pytest.mark.filterwarnings("ignore:.*at chance")
@pytest.mark.parametrize("case", list(CASES))
def test_a_stacked_run_matches_the_run_trained_alone(mnist, tmp_path, case):
    cfgs = CASES[case]
    stacked = train_stack(cfgs, store=RunStore(tmp_path / "stacked"), data=mnist, progress=False)
    for cfg, run in zip(cfgs, stacked):
        alone = train(cfg, store=RunStore(tmp_path / "alone"), data=mnist, progress=False)
        assert run.name == alone.name and run.finished
        assert_within_tolerance(alone, run)
        assert f'"stack": {len(cfgs)}' in (run.path / "run.json").read_text()
        assert_curves_within_tolerance(alone.curve, run.curve)
    if cfgs[0].eval_every:
        assert len(stacked[0].curve) == 12  # before training, after steps 7, 14, ..., 63 of 2 × 32, each epoch's end


def assert_curves_within_tolerance(alone, stacked):
    assert list(alone.images) == list(stacked.images)
    if len(alone):
        pd.testing.assert_series_equal(alone.test_loss, stacked.test_loss, rtol=LOSS_RTOL * 10, atol=0)
        assert (alone.test_acc - stacked.test_acc).abs().max() <= ACC_ATOL


RESUMED = {
    "the original's protocol, weight decay": [RunConfig.preset("original", model="LeNet5", epochs=3, seed=s,
                                                               weight_decay=wd, **SMALL) for s, wd in ((0, 0.0), (1, 0.001))],
    "Adam, one-cycle, a curve": [RunConfig(model="LeNet5-relu-silu", epochs=3, seed=s, optimizer="adam",
                                           schedule="one-cycle", lr=3e-3, one_cycle_warmup=0.15, batch_size=32,
                                           label_smoothing=0.1, eval_every=5, weight_decay=wd, shift=1, **SMALL)
                                 for s, wd in ((0, 0.0), (1, 1e-4))],
    "SGD, dropout": [RunConfig.preset("original", model="LeNet5", epochs=3, seed=s, dropout=0.3, **SMALL)
                     for s in (0, 1)],
    "AdamW, a weight average": [RunConfig(model="LeNet5-relu-silu", epochs=3, seed=s, optimizer="adamw",
                                          schedule="one-cycle", lr=3e-3, one_cycle_warmup=0.15, batch_size=32,
                                          weight_decay=wd, average=0.95, **SMALL) for s, wd in ((0, 0.05), (1, 0.0))],
}


@pytest.mark.filterwarnings("ignore:.*at chance")
@pytest.mark.parametrize("case", list(RESUMED))
def test_an_interrupted_stack_resumes_bit_identical(mnist, tmp_path, case):
    cfgs = RESUMED[case]
    whole = train_stack(cfgs, store=RunStore(tmp_path / "whole"), data=mnist, progress=False)
    store = RunStore(tmp_path / "cut")
    seen = []

    def stop_at_two(run, row):  # the first run's callback: callbacks run once every run has stored the epoch
        seen.append(row["epoch"])
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_stack(cfgs, store=store, data=mnist, progress=False, callbacks=[stop_at_two])
    assert [store.find(c).epochs_done for c in cfgs] == [2, 2]
    resumed = train_stack(cfgs, store=store, data=mnist, progress=False)
    for a, b in zip(whole, resumed):
        pd.testing.assert_frame_equal(metrics(a), metrics(b))
        final_a = torch.load(a.checkpoint(), weights_only=True)
        final_b = torch.load(b.checkpoint(), weights_only=True)
        assert all(torch.equal(final_a["model"][k], final_b["model"][k]) for k in final_a["model"])
        if a.config.average:
            assert final_a["average_steps"] == final_b["average_steps"] == 3 * 13  # 400 images, batch 32: 13 steps
            assert all(torch.equal(final_a["averaged"][k], final_b["averaged"][k]) for k in final_a["averaged"])
        assert torch.equal(final_a["rng"]["shuffle"], final_b["rng"]["shuffle"])
        state_a, state_b = final_a["optimizer"]["state"], final_b["optimizer"]["state"]
        assert state_a.keys() == state_b.keys() and all(
            torch.equal(state_a[i][key], state_b[i][key]) for i in state_a for key in state_a[i])
        pd.testing.assert_frame_equal(a.curve, b.curve)


@pytest.mark.filterwarnings("ignore:.*at chance")
def test_runs_behind_catch_up_before_the_stack_goes_on(mnist, tmp_path):
    cfgs = [RunConfig(model="CustomMLP_6", epochs=3, seed=s, **TINY) for s in (0, 1, 2)]
    store = RunStore(tmp_path)

    def stop_at_one(run, row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(cfgs[1], store=store, data=mnist, progress=False, callbacks=[stop_at_one])
    epochs_trained = []
    runs = train_stack(cfgs, store=store, data=mnist, progress=False,
                       callbacks=[lambda run, row: epochs_trained.append((run.config.seed, row["epoch"]))])
    assert epochs_trained == [(0, 1), (2, 1), (0, 2), (1, 2), (2, 2), (0, 3), (1, 3), (2, 3)]
    for cfg, run in zip(cfgs, runs):
        alone = train(cfg, store=RunStore(tmp_path / "alone"), data=mnist, progress=False)
        assert_within_tolerance(alone, run)


def test_runs_of_one_stack_must_share_everything_but_their_own_data_and_decay():
    base = RunConfig(model="LeNet5", epochs=2)
    assert stack_key(base) == stack_key(RunConfig(model="LeNet5", epochs=2, seed=3, weight_decay=1e-3, noise_std=0.2,
                                                  noise_mode="fixed", shift=2, rotate=5, scale=0.1, name="x"))
    for other in (dict(model="LeNet5-tanh"), dict(epochs=3), dict(batch_size=10), dict(lr=0.1), dict(momentum=0.6),
                  dict(loss="softmax_then_cross_entropy"), dict(schedule="cosine"), dict(train_subset=100),
                  dict(protocol="original"), dict(optimizer="adam"), dict(schedule="one-cycle", momentum=0.9),
                  dict(eval_every=10), dict(label_smoothing=0.1), dict(validation=1000)):
        assert stack_key(base) != stack_key(RunConfig(**{"model": "LeNet5", "epochs": 2, **other})), other
    with pytest.raises(ConfigError, match="may differ only in"):
        train_stack([base, RunConfig(model="CustomMLP_6", epochs=2)])
    with pytest.raises(ConfigError, match="imported run"):
        train_stack([RunConfig.preset("original", origin="original-checkpoint")] * 2)


def test_stack_groups():
    cfgs = {f"lenet {s}": RunConfig(model="LeNet5", seed=s) for s in range(10)}
    cfgs |= {f"mlp {s}": RunConfig(model="CustomMLP_6", seed=s) for s in range(3)}
    cfgs["lenet long"] = RunConfig(model="LeNet5", epochs=150)
    assert stack_groups(cfgs, max_size=8) == [[f"lenet {s}" for s in range(5)], [f"lenet {s}" for s in range(5, 10)],
                                              ["mlp 0", "mlp 1", "mlp 2"], ["lenet long"]]
    assert stack_groups(cfgs, max_size=1) == [[label] for label in cfgs]
    few = {label: cfgs[label] for label in ("mlp 0", "mlp 1", "mlp 2", "lenet long")}
    assert stack_groups(few, parts=2) == [["mlp 0", "mlp 1", "mlp 2"], ["lenet long"]]
    assert stack_groups(few, parts=3) == [["mlp 0", "mlp 1"], ["mlp 2"], ["lenet long"]]
    assert stack_groups(few, parts=9) == [["mlp 0"], ["mlp 1"], ["mlp 2"], ["lenet long"]]


def test_train_many_trains_stacks(mnist, tmp_path):
    cfgs = {f"seed {s}": RunConfig(model="CustomMLP_6", epochs=2, seed=s, **TINY) for s in range(4)}
    lines, before = [], dict(os.environ)
    names = train_many(cfgs, workers=2, runs_dir=tmp_path, log=lines.append)
    assert lines[0].endswith("2 stacks"), lines[0]
    # the LocalCluster's OMP_NUM_THREADS=1 for its workers does not stay behind for what runs next
    assert dict(os.environ) == before
    for label, cfg in cfgs.items():
        assert '"stack": 2' in (tmp_path / names[label] / "run.json").read_text()
        alone = train(cfg, store=RunStore(tmp_path / "alone"), data=mnist, progress=False)
        assert_within_tolerance(alone, RunStore(tmp_path).load(names[label]))


# A stack of notebook 8's kind, in a process of its own that SIGKILLs itself as it is about to store a run's
# epoch for the given time (each epoch stores one run, then the other).
KILLED_STACK = """
import os, signal, sys
import torch
from mnistlib import RunConfig, RunStore
from mnistlib.training.lifecycle import train_stack
saves, real = [0], RunStore.save_epoch
def save_epoch(*args, **kwargs):
    saves[0] += 1
    if saves[0] == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
    return real(*args, **kwargs)
RunStore.save_epoch = save_epoch
torch.set_num_threads(1)
cfgs = [RunConfig(model="LeNet5-relu-silu", epochs=4, seed=s, optimizer="adam", schedule="one-cycle", lr=3e-3,
                  one_cycle_warmup=0.15, batch_size=32, label_smoothing=0.1, eval_every=5, weight_decay=wd,
                  train_subset=400, test_subset=200, subset_mode="stratified") for s, wd in ((0, 0.0), (1, 1e-4))]
train_stack(cfgs, store=RunStore(sys.argv[1]), progress=False)
"""

# where the kill lands: between the two runs' saves of the first epoch; of the third; between epochs 2 and 3
CUTS = {2: (1, 0), 6: (3, 2), 5: (2, 2)}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:.*at chance")
def test_a_killed_stack_of_adam_one_cycle_curve_runs_resumes_bit_identical(mnist, tmp_path):
    """SIGKILL (no chance to clean up) part-way through a stack of Adam + one-cycle runs with curves, between
    two epochs and between two runs' saves of one epoch, then the stack again in this process: histories, curves,
    weights and optimizer states equal an uninterrupted stack's."""
    import os
    import subprocess
    import sys

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the killed process ran
    try:
        whole = None
        for cut, epochs_stored in CUTS.items():
            folder = tmp_path / f"cut-{cut}"
            process = subprocess.run([sys.executable, "-c", KILLED_STACK, str(folder), str(cut)], timeout=300,
                                     env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True)
            assert process.returncode == -9, process.stderr[-2000:]
            store = RunStore(folder)
            cfgs = sorted((store.load(path).config for path in store.run_folders()), key=lambda cfg: cfg.seed)
            assert tuple(store.find(cfg).epochs_done for cfg in cfgs) == epochs_stored, cut
            resumed = train_stack(cfgs, store=store, data=mnist, progress=False)
            if whole is None:
                whole = train_stack(cfgs, store=RunStore(tmp_path / "whole"), data=mnist, progress=False)
            for a, b in zip(whole, resumed):
                pd.testing.assert_frame_equal(metrics(a), metrics(b))
                pd.testing.assert_frame_equal(a.curve, b.curve)
                last_a, last_b = (torch.load(run.checkpoint(), weights_only=True) for run in (a, b))
                assert all(torch.equal(last_a["model"][k], last_b["model"][k]) for k in last_a["model"]), cut
                state_a, state_b = last_a["optimizer"]["state"], last_b["optimizer"]["state"]
                assert all(torch.equal(state_a[i][key], state_b[i][key]) for i in state_a for key in state_a[i])
                assert not b.checkpoint("previous").exists(), "a finished run keeps no previous epoch"
    finally:
        torch.set_num_threads(threads)
