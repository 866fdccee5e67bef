"""Real training on subsets: beats chance, deterministic, resumable, reused, crash-safe."""
import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import mnistlib._util.files as files_module
import mnistlib.training.lifecycle as lifecycle
from mnistlib import ConfigError, RunConfig, RunStore, run_statistics, summarize, train
from mnistlib.errors import RunHealthWarning
from mnistlib.store.identity import config_hash, identity, run_name
from mnistlib.stats import Health, State, health
from mnistlib.training.optim import lr_factor

TINY = dict(train_subset=1000, test_subset=500, subset_mode="stratified")


def metrics(run):
    return run.history.drop(columns="seconds")


def test_lenet_beats_chance_on_a_subset(mnist, tmp_path):
    # The original's sigmoid LeNet-5 sits on a plateau at first: at lr 0.1, 190 steps clear it.
    run = train(RunConfig(model="LeNet5", epochs=3, lr=0.1, train_subset=4000, test_subset=1000,
                          subset_mode="stratified"), store=RunStore(tmp_path), data=mnist, progress=False)
    assert run.finished and run.health.state is State.OK and str(run.health) == "ok"
    assert run.history.test_acc.iloc[-1] > 60  # chance is ~11%
    assert run.history.train_loss.iloc[-1] < run.history.train_loss.iloc[0]


def test_same_seed_same_history_different_seed_differs(mnist, tmp_path):
    cfg = RunConfig(model="CustomMLP_6", epochs=2, noise_std=0.2, **TINY)
    a = train(cfg, store=RunStore(tmp_path / "a"), data=mnist, progress=False)
    b = train(cfg, store=RunStore(tmp_path / "b"), data=mnist, progress=False)
    pd.testing.assert_frame_equal(metrics(a), metrics(b))
    c = train(RunConfig(model="CustomMLP_6", epochs=2, noise_std=0.2, seed=1, **TINY), store=RunStore(tmp_path / "c"),
              data=mnist, progress=False)
    assert not metrics(a).equals(metrics(c))


@pytest.mark.filterwarnings("ignore:.*at chance")  # LeNet-5 on 600 images: still on the sigmoid plateau
@pytest.mark.parametrize("extra", [dict(model="LeNet5", noise_mode="per-batch", train_subset=600),
                                   dict(noise_mode="fixed"),
                                   dict(shift=2, rotate=10, scale=0.1, schedule="cosine", warmup_epochs=1),
                                   dict(protocol="original", noise_mode="fixed", loss="softmax_then_cross_entropy"),
                                   dict(model="LeNet5-relu-silu", optimizer="adam", schedule="one-cycle", lr=3e-3,
                                        one_cycle_warmup=0.15, batch_size=32, label_smoothing=0.1, shift=1,
                                        elastic=20, eval_every=9)],
                         ids=["LeNet-5, noise per batch", "fixed noise", "augmented, cosine, warm-up", "the original's protocol",
                              "a recipe: Adam, one-cycle, smoothing, elastic, a curve"])
def test_resume_equals_uninterrupted(mnist, tmp_path, extra):
    cfg = RunConfig(**{"model": "CustomMLP_6", "epochs": 4, "noise_std": 0.1, **TINY, **extra})
    whole = train(cfg, store=RunStore(tmp_path / "whole"), data=mnist, progress=False)

    def stop_after_two(run, row):
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    store = RunStore(tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        train(cfg, store=store, data=mnist, progress=False, callbacks=[stop_after_two])
    partial = store.find(cfg)
    assert partial.epochs_done == 2 and not partial.finished
    resumed = train(cfg, store=store, data=mnist, progress=False)
    pd.testing.assert_frame_equal(metrics(resumed), metrics(whole))
    pd.testing.assert_frame_equal(resumed.curve, whole.curve)
    final_a = torch.load(whole.checkpoint(), weights_only=True)["model"]
    final_b = torch.load(resumed.checkpoint(), weights_only=True)["model"]
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)


def test_finished_run_is_reused_without_training(mnist, tmp_path, monkeypatch):
    cfg = RunConfig(model="CustomMLP_6", epochs=2, **TINY)
    store = RunStore(tmp_path)
    first = train(cfg, store=store, data=mnist, progress=False)
    monkeypatch.setattr(lifecycle, "train_epoch", lambda *a, **k: pytest.fail("trained again"))
    again = train(cfg, store=store, data=mnist, progress=False)
    pd.testing.assert_frame_equal(again.history, first.history)
    assert again.path == first.path and again.path.name.startswith("custommlp_6-e2-n1000-ntest500-stratified-")


def test_crash_mid_write_leaves_store_readable_and_resumable(mnist, tmp_path, monkeypatch):
    cfg = RunConfig(model="CustomMLP_6", epochs=3, **TINY)
    whole = train(cfg, store=RunStore(tmp_path / "whole"), data=mnist, progress=False)
    store = RunStore(tmp_path / "crash")
    real_save = torch.save
    calls = {"n": 0}

    def dying_save(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # epoch 2's last.pt (epoch 1 wrote last + best)
            f.write(b"half a checkpoint")
            raise OSError("disk full")
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(files_module.torch, "save", dying_save)
    with pytest.raises(OSError, match="disk full"):
        train(cfg, store=store, data=mnist, progress=False)
    monkeypatch.undo()
    run = store.find(cfg)
    assert len(run.history) == 1  # epoch 1 intact, nothing half-written
    assert not list(run.path.rglob("*.tmp"))
    assert torch.load(run.checkpoint(), weights_only=True)["epoch"] == 1
    resumed = train(cfg, store=store, data=mnist, progress=False)
    pd.testing.assert_frame_equal(metrics(resumed), metrics(whole))


def test_corrupt_checkpoint_gives_one_line_error(mnist, tmp_path):
    from mnistlib import RunStoreError

    cfg = RunConfig(model="CustomMLP_6", epochs=2, **TINY)
    store = RunStore(tmp_path)
    run = train(cfg, store=store, data=mnist, progress=False)
    run.checkpoint().write_bytes(b"garbage")
    (run.path / "history.csv").write_text((run.path / "history.csv").read_text().splitlines()[0] + "\n")
    with pytest.raises(RunStoreError, match=r"last.pt: unreadable checkpoint .*move it aside"):
        train(cfg, store=store, data=mnist, progress=False)


def test_divergence_is_recorded_not_raised(mnist, tmp_path):
    cfg = RunConfig(model="CustomMLP_6", epochs=2, lr=1e4, **TINY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = train(cfg, store=RunStore(tmp_path), data=mnist, progress=False)
    assert run.finished and len(run.history) == 2
    assert run.health.failed and str(run.health).startswith(("diverged", "collapsed"))
    assert any(issubclass(w.category, RunHealthWarning) and "recorded; training goes on" in str(w.message)
               for w in caught)


def test_the_originals_loss_has_the_softmax_floor(mnist, tmp_path):
    run = train(RunConfig(model="CustomMLP_6", epochs=2, loss="softmax_then_cross_entropy", **TINY), store=RunStore(tmp_path),
                data=mnist, progress=False)
    floor = math.log(math.e + 9) - 1
    assert floor == pytest.approx(1.4612, abs=1e-4)
    assert (run.history[["train_loss", "test_loss"]] >= floor).all().all()
    assert run.history.test_acc.iloc[-1] > 50


def test_statistics_window():
    history = pd.DataFrame({"epoch": np.arange(1, 51), "train_loss": np.linspace(1, 0.1, 50),
                            "test_loss": np.linspace(1, 0.2, 50), "train_acc": np.arange(50) + 50.0,
                            "test_acc": np.r_[np.arange(49) + 40.0, 10.0], "seconds": 1.0})
    stats = run_statistics(history, (20, 50))
    assert stats["mean_train_acc"] == pytest.approx(np.mean(np.arange(19, 50) + 50.0))
    assert stats["best_test_acc"] == 88.0 and stats["best_epoch"] == 49
    assert stats["min_test_loss"] == pytest.approx(0.2) and stats["min_loss_epoch"] == 50
    assert run_statistics(history, (1, 10))["mean_test_acc"] == pytest.approx(44.5)


def test_summarize_table(mnist, tmp_path):
    store = RunStore(tmp_path)
    runs = [train(RunConfig(model=m, epochs=2, **TINY), store=store, data=mnist, progress=False)
            for m in ("CustomMLP_5", "CustomMLP_6")]
    table = summarize(runs, window=(1, 2))
    assert list(table.index) == [r.label for r in runs]
    assert {"mean_test_acc", "best_test_acc", "min_test_loss", "health"} <= set(table.columns)


@pytest.mark.parametrize("values,match", [
    ({"epochs": -1}, "epochs must be >= 1"), ({"weight_decay": "lots"}, "weight_decay must be a number"),
    ({"noise_std": -0.1}, "noise_std must be >= 0"), ({"model": "VGG"}, "unknown model 'VGG'"),
    ({"batch_size": 6.5}, "batch_size must be an integer"), ({"lr": True}, "lr must be a number"),
    ({"noise_mode": "sometimes"}, "noise_mode must be one of per-batch, fixed"), ({"lambda": 1}, "unknown config field"),
    ({"schedule": "linear"}, "schedule must be one of constant, cosine, step"), ({"shift": 5}, "shift must be <= 4"),
    ({"rotate": -5}, "rotate must be >= 0"), ({"scale": "big"}, "scale must be a number"),
    ({"epochs": 5, "warmup_epochs": 5}, "warmup_epochs must be less than epochs"),
])
def test_bad_config_values(values, match):
    with pytest.raises(ConfigError, match=match):
        RunConfig.from_dict(values)


def test_numbers_as_text_are_accepted():
    cfg = RunConfig.from_dict({"weight_decay": "1e-3", "epochs": "5", "train_subset": 100.0})
    assert cfg.weight_decay == 0.001 and cfg.epochs == 5 and cfg.train_subset == 100
    assert config_hash(cfg) == config_hash(RunConfig(weight_decay=1e-3, epochs=5, train_subset=100))
    assert config_hash(cfg) == config_hash(RunConfig(weight_decay=1e-3, epochs=5, train_subset=100, device="cpu",
                                                     name="x"))


def test_damaged_history_csv_is_rebuilt_from_the_checkpoint(mnist, tmp_path):
    cfg = RunConfig(model="CustomMLP_6", epochs=2, **TINY)
    store = RunStore(tmp_path)
    run = train(cfg, store=store, data=mnist, progress=False)
    (run.path / "history.csv").write_text("garbage,\n\x00\x01")
    with pytest.warns(UserWarning, match="history.csv: unreadable; using the history stored in"):
        again = store.load(run.path.name)
    pd.testing.assert_frame_equal(again.history, run.history, check_dtype=False)
    assert store.load(run.path.name).history.shape == run.history.shape  # rewritten, no warning now


# The command line, each epoch made to last a little longer, so a kill lands in the middle of a run.
SLOW_CLI = ("import sys, time\nimport mnistlib.training.lifecycle as t\nreal = t.train_epoch\n"
            "t.train_epoch = lambda group, epoch: (time.sleep(0.3), real(group, epoch))[1]\n"
            "from mnistlib.cli import main\nsys.exit(main(sys.argv[1:]))")


@pytest.mark.slow
def test_killed_training_process_resumes_to_the_same_history(mnist, tmp_path):
    """SIGKILL in the middle of a run of a recipe (no chance to clean up), then the same command again."""
    import os
    import signal
    import subprocess
    import sys
    import time

    args = ["train", "--recipe", "fast", "--elastic", "20", "--eval-every", "25", "--epochs", "8",
            "--train-subset", "2000", "--test-subset", "500", "--no-progress", "--runs-dir", str(tmp_path / "k")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", SLOW_CLI, *args], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "k").glob("*/history.csv")):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    (run_dir,) = RunStore(tmp_path / "k").run_folders()
    done = len(pd.read_csv(run_dir / "history.csv"))
    assert 1 <= done < 8, "the run should have been killed part-way"
    assert subprocess.run([sys.executable, "-m", "mnistlib", *args], env=env, capture_output=True).returncode == 0
    resumed = RunStore(tmp_path / "k").load(run_dir.name)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the command ran: results are bit-identical at one thread count
    try:
        whole = train(resumed.config, store=RunStore(tmp_path / "whole"), data=mnist, progress=False)
    finally:
        torch.set_num_threads(threads)
    pd.testing.assert_frame_equal(metrics(resumed), metrics(whole))
    pd.testing.assert_frame_equal(resumed.curve, whole.curve)
    assert len(whole.curve) == 1 + 8 + (8 * 63) // 25  # the start, each epoch's end, every 25th of its 8 × 63 steps


# Every default is part of every stored run's identity (a field at its default is left out of the hash):
# changing one needs a new store format (mnistlib.store.format) that rewrites the runs it concerns.
DEFAULTS = {"model": "LeNet5", "epochs": 50, "batch_size": 64, "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0,
            "noise_std": 0.0, "noise_mean": 0.0, "noise_mode": "per-batch", "loss": "cross_entropy",
            "schedule": "constant", "warmup_epochs": 0, "shift": 0, "rotate": 0.0, "scale": 0.0,
            "optimizer": "sgd", "label_smoothing": 0.0, "one_cycle_warmup": 0.3, "elastic": 0.0, "elastic_sigma": 4.0,
            "dropout": 0.0, "average": 0.0, "validation": 0, "eval_every": 0, "protocol": "mnistlib", "origin": "trained", "seed": 0, "train_subset": None, "test_subset": None,
            "subset_mode": "first", "name": None, "device": "auto", "save_every_epoch": False}


def test_a_runs_identity_is_what_differs_from_the_defaults():
    assert {f.name: f.default for f in dataclasses.fields(RunConfig)} == DEFAULTS
    assert identity(RunConfig(model="CustomMLP_6", weight_decay=1e-3, device="cpu", name="x")) == \
        {"model": "CustomMLP_6", "weight_decay": 1e-3}
    assert identity(RunConfig()) == {"model_revision": 2}  # LeNet-5's F6 changed: revision 1 runs are not it
    assert identity(RunConfig(model="LeNet5-lecun")) == {"model": "LeNet5-lecun"}
    # names are pinned: a change to the rule would orphan every stored run
    assert run_name(RunConfig(model="CustomMLP_6", weight_decay=1e-3)) == "custommlp_6-wd0.001-7beceee4"
    assert run_name(RunConfig(model="CustomMLP_1")) == "custommlp_1-43c47376"
    assert run_name(RunConfig()) == "lenet5-d6886668"
    recipe = RunConfig(schedule="cosine", warmup_epochs=2, shift=2)
    assert run_name(recipe).startswith("lenet5-warm2-shift2-cosine-")
    assert len({config_hash(recipe), config_hash(RunConfig(schedule="cosine")), config_hash(RunConfig())}) == 3


def test_a_field_added_later_keeps_every_stored_name():
    @dataclasses.dataclass(frozen=True)
    class Later(RunConfig):
        label_smoothing: float = 0.0

    assert config_hash(Later(model="CustomMLP_6")) == config_hash(RunConfig(model="CustomMLP_6"))
    assert config_hash(Later(model="CustomMLP_6", label_smoothing=0.1)) != config_hash(RunConfig(model="CustomMLP_6"))


def test_lr_factor_schedules():
    steps = 10
    constant = RunConfig(epochs=4)
    assert [lr_factor(constant, s, steps) for s in (0, 39)] == [1.0, 1.0]
    cosine = RunConfig(epochs=4, schedule="cosine", warmup_epochs=1)
    warm = [lr_factor(cosine, s, steps) for s in range(10)]
    assert warm == pytest.approx([(s + 1) / 10 for s in range(10)])
    after = [lr_factor(cosine, s, steps) for s in range(10, 40)]
    assert after[0] == 1.0 and all(a > b for a, b in zip(after, after[1:])) and after[-1] < 0.01
    step = RunConfig(epochs=4, schedule="step")
    assert [lr_factor(step, s, steps) for s in (0, 19, 20, 29, 30, 39)] == [1, 1, 0.1, 0.1, 0.01, 0.01]


def test_training_applies_the_schedule_every_step(mnist, tmp_path, monkeypatch):
    seen = []

    class Recording(torch.optim.SGD):
        def step(self, closure=None):
            seen.append(self.param_groups[0]["lr"])
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "SGD", Recording)
    cfg = RunConfig(model="CustomMLP_6", epochs=2, lr=0.1, schedule="cosine", batch_size=100, **TINY)
    train(cfg, store=RunStore(tmp_path), data=mnist, progress=False)
    assert len(seen) == 20
    assert seen == pytest.approx([0.1 * lr_factor(cfg, s, 10) for s in range(20)])


def test_shift_training_differs_from_plain(mnist, tmp_path):
    plain = train(RunConfig(model="CustomMLP_6", epochs=1, **TINY), store=RunStore(tmp_path), data=mnist,
                  progress=False)
    shifted = train(RunConfig(model="CustomMLP_6", epochs=1, shift=2, **TINY), store=RunStore(tmp_path),
                    data=mnist, progress=False)
    assert plain.path != shifted.path
    assert plain.history.train_loss.iloc[0] != shifted.history.train_loss.iloc[0]


def test_longer_run_continues_from_a_stored_shorter_one(mnist, tmp_path, monkeypatch):
    short = RunConfig(model="CustomMLP_6", epochs=2, **TINY)
    long = RunConfig(model="CustomMLP_6", epochs=4, **TINY)
    scratch = train(long, store=RunStore(tmp_path / "scratch"), data=mnist, progress=False)
    store = RunStore(tmp_path / "store")
    train(short, store=store, data=mnist, progress=False)
    train(RunConfig(model="CustomMLP_6", epochs=3, seed=1, **TINY), store=store, data=mnist, progress=False)
    calls = []
    real = lifecycle.train_epoch
    monkeypatch.setattr(lifecycle, "train_epoch", lambda *a, **k: calls.append(1) or real(*a, **k))
    continued = train(long, store=store, data=mnist, progress=False)
    assert len(calls) == 2  # epochs 3 and 4 only; the other seed's 3-epoch run is not a base
    pd.testing.assert_frame_equal(metrics(continued), metrics(scratch))
    assert (continued.path / "run.json").read_text().count(store.find(short).name) == 1
    assert store.find(short).finished and len(store.find(short).history) == 2  # the base is untouched
    # A schedule depends on the total epochs: such a run always starts from scratch.
    calls.clear()
    train(RunConfig(model="CustomMLP_6", epochs=2, schedule="cosine", **TINY), store=store, data=mnist, progress=False)
    train(RunConfig(model="CustomMLP_6", epochs=3, schedule="cosine", **TINY), store=store, data=mnist, progress=False)
    assert len(calls) == 5


@pytest.mark.parametrize("acc, loss, state, epoch, text", [
    ([50, 90, 95], [1, 1, 1], State.OK, None, "ok"),
    ([50, 90, 11], [1, 1, 1], State.COLLAPSED, 3, "collapsed: test accuracy fell to chance at epoch 3"),
    ([11, 10, 11], [1, 1, 1], State.AT_CHANCE, None, "at chance: test accuracy never rose above chance"),
    ([30, 45, 15], [1, 1, 1], State.AT_CHANCE, None, "at chance: test accuracy never rose above chance"),
    ([50, 90, 19, 60, 18], [1] * 5, State.COLLAPSED, 5, "collapsed: test accuracy fell to chance at epoch 5"),
    ([50, 90, 95], [1, float("nan"), 1], State.DIVERGED, 2, "diverged: non-finite loss from epoch 2"),
    ([], [], State.EMPTY, None, "no epochs yet"),
])
def test_health_is_a_value_with_its_sentence(acc, loss, state, epoch, text):
    history = pd.DataFrame({"epoch": range(1, len(acc) + 1), "train_loss": loss, "train_acc": acc,
                            "test_loss": loss, "test_acc": acc, "seconds": 1.0})
    verdict = health(history)
    assert verdict == Health(state, epoch) and str(verdict) == text
    assert verdict.failed == (state in (State.COLLAPSED, State.DIVERGED))


def test_training_flushes_subnormals_and_clears_the_flag_after(mnist, tmp_path):
    # A collapsed run's weights decay into subnormals, which slow every run of its stack 8-fold.
    tiny = torch.tensor([1e-40])
    seen = []
    run = train(RunConfig(model="CustomMLP_6", epochs=1, **TINY), store=RunStore(tmp_path), data=mnist,
                progress=False, callbacks=[lambda run, row: seen.append(float(tiny * 1.0))])
    assert seen == [0.0] and run.status["subnormals_flushed"] is True
    assert float(tiny * 1.0) > 0  # the caller's arithmetic is its own again


@pytest.mark.parametrize("optimizer", ["adam", "adamw"])
def test_adamw_decouples_the_weight_decay_and_adam_adds_it_to_the_gradient(optimizer):
    """One step from zero moments against the update written out: Adam's first step moves each weight by lr
    (sign of its gradient, L2 included in it); AdamW's first shrinks the weight by lr·λ of itself, then moves it
    by lr (sign of the gradient alone)."""
    from mnistlib.training.optim import make_optimizer

    lr, wd, eps = 0.01, 0.5, 1e-8
    w0 = torch.tensor([1.0, -2.0, 0.5, 3.0])
    grad = torch.tensor([0.3, 0.2, -1.4, -0.1])
    w = w0.clone().requires_grad_()
    w.grad = grad.clone()
    make_optimizer(RunConfig(optimizer=optimizer, lr=lr, weight_decay=wd), [w]).step()
    if optimizer == "adam":
        g = grad + wd * w0
        expected = w0 - lr * g / (g.abs() + eps)
    else:
        expected = w0 * (1 - lr * wd) - lr * grad / (grad.abs() + eps)
    assert torch.allclose(w.detach(), expected, atol=1e-7, rtol=0)


def test_the_weight_average_is_the_moving_average_of_the_weights_after_each_step_and_what_is_evaluated(mnist, tmp_path,
                                                                                                    monkeypatch):
    """RunConfig.average: after every optimizer step, average ← keep·average + (1 − keep)·weights with
    keep = min(decay, (1 + t)/(10 + t)), from the initial weights; the history, the checkpoint's readers and a
    resume read it."""
    import mnistlib.training.loop as loop
    from mnistlib.training.inference import evaluate_checkpoints, load_model

    cfg = RunConfig(model="CustomMLP_6", epochs=1, train_subset=600, test_subset=300, subset_mode="stratified",
                    batch_size=64, average=0.8)
    seen = []
    real_step = loop.Solo.step

    def step(self):
        if not seen:
            seen.append([p.detach().clone() for p in self.model.parameters()])  # the initial weights
        real_step(self)
        seen.append([p.detach().clone() for p in self.model.parameters()])

    monkeypatch.setattr(loop.Solo, "step", step)
    run = train(cfg, store=RunStore(tmp_path), data=mnist, progress=False)
    assert len(seen) == 1 + 10  # 600 images, batch 64: 10 steps
    expected = [w.double() for w in seen[0]]
    for t, weights in enumerate(seen[1:], 1):
        keep = min(0.8, (1 + t) / (10 + t))
        expected = [keep * e + (1 - keep) * w.double() for e, w in zip(expected, weights)]
    state = torch.load(run.checkpoint(), weights_only=True)
    names = [name for name, _ in load_model(run).named_parameters()]
    assert state["average_steps"] == 10
    for name, e, trained in zip(names, expected, seen[-1]):
        assert torch.allclose(state["averaged"][name].double(), e, atol=1e-6, rtol=0)
        assert torch.equal(state["model"][name], trained) and not torch.equal(state["averaged"][name], trained)
    model = load_model(run)
    assert model.weights == "the moving average of its weights (decay 0.8)"
    assert all(torch.equal(p, state["averaged"][n]) for n, p in model.named_parameters())
    table = evaluate_checkpoints(run, "last", data=mnist)
    assert table.test_acc.iloc[0] == pytest.approx(run.history.test_acc.iloc[-1], abs=1e-9)
    assert table.weights.iloc[0] == model.weights


def test_a_dropout_run_draws_its_masks_from_a_generator_its_checkpoint_keeps(mnist, tmp_path):
    from mnistlib.models.nets import GeneratorDropout
    from mnistlib.training.inference import load_model

    common = dict(model="LeNet5-relu-silu", epochs=1, train_subset=600, test_subset=300, subset_mode="stratified",
                  optimizer="adam", lr=3e-3)
    plain = train(RunConfig(**common), store=RunStore(tmp_path), data=mnist, progress=False)
    dropped = train(RunConfig(dropout=0.5, **common), store=RunStore(tmp_path), data=mnist, progress=False)
    assert "drop0.5" in dropped.name and dropped.name != plain.name
    assert plain.history.train_loss.iloc[-1] != dropped.history.train_loss.iloc[-1]
    state = torch.load(dropped.checkpoint(), weights_only=True)
    assert "dropout" in state["rng"] and "dropout" not in torch.load(plain.checkpoint(), weights_only=True)["rng"]
    assert not isinstance(load_model(dropped).dropout, GeneratorDropout)  # a reader evaluates: no dropout
