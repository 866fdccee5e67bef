"""Stacked training: each run of a stack gets the history it gets alone (within the stated
tolerance), its own checkpoints, and a resume that is bit-identical to an uninterrupted stack."""
import os

import pandas as pd
import pytest
import torch

from mnistlib import ConfigError, RunConfig, RunStore, build_model, train
from mnistlib.training.cluster import train_many
from mnistlib.training.stack import StackedSGD, stack_groups, stack_key, train_stack
from mnistlib.models.stacked import stack_model

TINY = dict(train_subset=1000, test_subset=500, subset_mode="stratified")
# The stated tolerance: a stacked run against the same run trained alone (README, Performance).
LOSS_RTOL, ACC_ATOL = 1e-4, 0.2  # relative loss; accuracy in percentage points (one test image is 0.2 here)


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


@pytest.mark.parametrize("name", ["LeNet5", "LeNet5-lecun", "LeNet5-relu", "CustomMLP_1", "CustomMLP_6"])
def test_the_stacked_model_computes_each_run(name):
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(build_model(name))
    stacked, pairs = stack_model(models)
    x = torch.randn(3, 5, 1, 32, 32)  # run, batch, image
    out = stacked(x.transpose(0, 1).reshape(5, 3, 32, 32)).view(5, 3, 10).transpose(0, 1)
    for k, model in enumerate(models):
        torch.testing.assert_close(out[k], model(x[k]), rtol=1e-5, atol=1e-5)
    assert sum(p.numel() for p, _ in pairs) == 3 * sum(p.numel() for p in models[0].parameters())
    assert all(len(own) == 3 for _, own in pairs)


def test_stacked_sgd_is_torch_sgd_per_run():
    """One step with a different weight decay per run, then a second (momentum) step."""
    models, optimizers = [], []
    for seed, decay in ((0, 0.0), (1, 0.01)):
        torch.manual_seed(seed)
        models.append(build_model("CustomMLP_6"))
        optimizers.append(torch.optim.SGD(models[-1].parameters(), lr=0.1, momentum=0.6, weight_decay=decay))
    stacked, pairs = stack_model(models)
    sgd = StackedSGD(pairs, optimizers, [0.0, 0.01])
    x = torch.randn(2, 4, 1024)
    for _ in range(2):
        for model, opt, xb in zip(models, optimizers, x):
            opt.zero_grad()
            model(xb).square().sum().backward()
            opt.step()
        sgd.zero_grad()
        stacked(x.transpose(0, 1).reshape(4, -1)).square().sum().backward()
        sgd.step(0.1)
    reference = [[p.detach().clone() for p in m.parameters()] for m in models]
    sgd.write_back(0.1)
    for model, expected in zip(models, reference):
        for p, q in zip(model.parameters(), expected):
            # baddbmm sums in another order than each run's own linear layer, and the order differs by CPU
            # (oneDNN picks kernels per machine): float32 rounding, amplified by two steps at lr 0.1, reaches a
            # few 1e-6 on an AMD EPYC (the tolerance of the stacked histories below is 1e-4 relative)
            torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


SMALL = dict(TINY, train_subset=400)  # the original's protocol: batch 10, so 40 steps an epoch
CASES = {
    "the original's protocol, fixed noise, weight decay": [RunConfig.preset("original", model="LeNet5", epochs=2, seed=s,
                                                                  weight_decay=wd, noise_std=ns, **SMALL)
                                                 for s, wd, ns in ((0, 0, 0), (1, 0.01, 0), (2, 0, 0.2))],
    "batch 64, shifts, cosine": [RunConfig(model="CustomMLP_1", epochs=3, seed=s, shift=sh, schedule="cosine",
                                           lr=0.1, **TINY) for s, sh in ((0, 0), (1, 2))],
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


@pytest.mark.filterwarnings("ignore:.*at chance")
def test_an_interrupted_stack_resumes_bit_identical(mnist, tmp_path):
    cfgs = [RunConfig.preset("original", model="LeNet5", epochs=3, seed=s, weight_decay=wd, **SMALL)
            for s, wd in ((0, 0.0), (1, 0.001))]
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
        assert torch.equal(final_a["rng"]["shuffle"], final_b["rng"]["shuffle"])


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
                  dict(loss="softmax_then_cross_entropy"), dict(schedule="cosine"), dict(train_subset=100), dict(protocol="original")):
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
