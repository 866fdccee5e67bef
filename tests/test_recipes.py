"""#23's training pieces, each against a reference computation: one-cycle (torch's OneCycleLR), Adam under
it (a plain torch loop), label smoothing (its formula), elastic distortions (torchvision's elastic, a
direct blur), the validation split; the recipes as plain configs; their runs' curves and resume."""
import dataclasses
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
import yaml

from mnistlib import ConfigError, RunConfig, RunStore, train
from mnistlib.data.augment import elastic_displacement, random_elastic, warp
from mnistlib.data.mnist import BACKGROUND, iterate_batches, prepare, validation_split
from mnistlib.models.nets import build_model, count_parameters
from mnistlib.training.recipes import RECIPES, SGD, SGD_FULL, recipe
from mnistlib.training.job import Job
from mnistlib.training.loop import Solo, stack_groups, train_epoch
from mnistlib.training.optim import loss_function, lr_factor, one_cycle
from mnistlib.data.cache import run_tensors

TINY = dict(train_subset=640, test_subset=300, subset_mode="stratified")


# ----------------------------------------------------------------------------- one-cycle and Adam

@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_one_cycle_is_torchs_one_cycle_lr(optimizer):
    """Learning rate and momentum (Adam's β1, SGD's momentum) at every step, against torch's scheduler."""
    total, peak_lr, warmup = 97, 3e-3, 0.15
    parameter = torch.nn.Parameter(torch.zeros(1))
    opt = (torch.optim.Adam([parameter], lr=peak_lr) if optimizer == "adam"
           else torch.optim.SGD([parameter], lr=peak_lr, momentum=0.9))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=peak_lr, total_steps=total, pct_start=warmup)
    cfg = RunConfig(optimizer=optimizer, schedule="one-cycle", lr=peak_lr, one_cycle_warmup=warmup, epochs=1)
    for step in range(total):
        group = opt.param_groups[0]
        momentum = group["betas"][0] if optimizer == "adam" else group["momentum"]
        assert peak_lr * lr_factor(cfg, step, total) == pytest.approx(group["lr"], rel=1e-12, abs=0)
        assert one_cycle(step, total, warmup)[1] == pytest.approx(momentum, rel=1e-12)
        opt.step()
        scheduler.step()


def test_adam_one_cycle_training_is_a_plain_torch_loop(mnist):
    """Two epochs of the fast recipe through Job, against the loop anyone would write with torch's
    Adam, OneCycleLR and cross_entropy(label_smoothing): the same weights, bit for bit."""
    cfg = RECIPES["fast"].config(**TINY)
    torch.manual_seed(0)
    job = Job(cfg, run_tensors(cfg, mnist, torch.device("cpu")))
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    steps = cfg.epochs * math.ceil(TINY["train_subset"] / cfg.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=steps,
                                                    pct_start=cfg.one_cycle_warmup)
    shuffle = torch.Generator().manual_seed(cfg.seed)
    data = job.train_data
    for epoch in (1, 2):
        train_epoch(Solo(job), epoch)
        for xb, yb in iterate_batches(data.x_train, data.y_train, cfg.batch_size, shuffle):
            loss = F.cross_entropy(model(xb), yb, label_smoothing=cfg.label_smoothing)
            opt.zero_grad()
            loss.backward()
            opt.step()
            scheduler.step()
    ours, theirs = job.model.state_dict(), model.state_dict()
    assert all(torch.allclose(ours[k], theirs[k], rtol=0, atol=1e-6) for k in theirs)


def test_label_smoothing_is_its_formula():
    logits, labels = torch.randn(7, 10, generator=torch.Generator().manual_seed(0)), torch.arange(7)
    eps = 0.1
    log_p = torch.log_softmax(logits, 1)
    expected = ((1 - eps) * -log_p[torch.arange(7), labels] + eps * -log_p.mean(1)).sum()
    assert loss_function("cross_entropy", label_smoothing=eps)(logits, labels).item() == pytest.approx(expected.item())
    assert loss_function("cross_entropy")(logits, labels).item() == pytest.approx(-log_p[torch.arange(7), labels].sum().item())
    from mnistlib.training.optim import smoothing_targets

    on, off = smoothing_targets(eps)
    assert (on, off) == (pytest.approx(0.91), pytest.approx(0.01)) and on + 9 * off == pytest.approx(1.0)
    targets = torch.full((7, 10), off).scatter_(1, labels.view(-1, 1), on)  # the loss is the cross-entropy with them
    assert loss_function("cross_entropy", label_smoothing=eps)(logits, labels).item() == pytest.approx(
        -(targets * log_p).sum().item())


# ----------------------------------------------------------------------------- elastic distortions

def test_elastic_warp_is_torchvisions_elastic():
    from torchvision.transforms.v2.functional import elastic_image

    x = torch.randn(3, 1, 32, 32, generator=torch.Generator().manual_seed(1))
    field = elastic_displacement(3, 32, 32, 34.0, 4.0, torch.Generator().manual_seed(2))
    moved = warp(x, field)
    for i in range(3):  # torchvision takes the displacement in its normalized coordinates, (1, H, W, 2)
        displacement = (field[i].permute(1, 2, 0) * (2 / 32)).unsqueeze(0)
        reference = elastic_image(x[i:i + 1] - BACKGROUND, displacement, fill=None) + BACKGROUND
        assert torch.allclose(moved[i:i + 1], reference, atol=1e-6)


def test_elastic_field_is_uniform_noise_blurred_by_a_gaussian():
    """The field against a direct 2-D sum: every pixel a Gaussian-weighted mean of the uniform draws
    (zeros beyond the border), times α."""
    alpha, sigma, size = 10.0, 2.0, 12
    field = elastic_displacement(1, size, size, alpha, sigma, torch.Generator().manual_seed(3))
    noise = (torch.rand((2, 1, size, size), generator=torch.Generator().manual_seed(3)) * 2 - 1).numpy()[:, 0]
    radius = math.ceil(3 * sigma)
    offsets = np.arange(-radius, radius + 1)
    weights = np.exp(-offsets[:, None] ** 2 / (2 * sigma ** 2) - offsets[None, :] ** 2 / (2 * sigma ** 2))
    weights /= weights.sum()
    padded = np.pad(noise, ((0, 0), (radius, radius), (radius, radius)))
    expected = np.array([[[(padded[c, i:i + 2 * radius + 1, j:j + 2 * radius + 1] * weights).sum()
                           for j in range(size)] for i in range(size)] for c in range(2)]) * alpha
    assert np.allclose(field[0].numpy(), expected, atol=1e-5)


def test_random_elastic_moves_strokes_keeps_the_border_and_is_seeded(mnist):
    x = prepare(mnist, train_subset=8).x_train
    assert random_elastic(x, 0.0, 4.0) is x
    a = random_elastic(x, 34.0, 4.0, torch.Generator().manual_seed(0))
    b = random_elastic(x, 34.0, 4.0, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert torch.allclose(a[..., 0, :], torch.full_like(a[..., 0, :], BACKGROUND), atol=1e-5)  # border stays black
    ink = lambda t: (t - BACKGROUND).sum((1, 2, 3))  # noqa: E731
    assert ((ink(a) / ink(x) > 0.6) & (ink(a) / ink(x) < 1.6)).all()  # the digit is bent, not lost


# ----------------------------------------------------------------------------- the validation split

def test_the_validation_split_is_fixed_disjoint_and_replaces_the_test_set(mnist):
    train_part, held = validation_split(60_000, 10_000)
    assert len(train_part) == 50_000 and len(held) == 10_000 and not set(train_part) & set(held)
    assert np.array_equal(held, validation_split(60_000, 10_000)[1])  # the same split every time, every seed
    data = prepare(mnist, validation=10_000)
    full = prepare(mnist)
    assert torch.equal(data.x_test, full.x_train[torch.as_tensor(held)])  # evaluated on held-out training images
    assert torch.equal(data.x_train, full.x_train[torch.as_tensor(train_part)])
    with pytest.raises(ConfigError, match="validation holds images out of the whole training set"):
        RunConfig(validation=10_000, train_subset=1000)


# ----------------------------------------------------------------------------- recipes

def test_each_recipe_is_the_configs_its_steps_say():
    fast = RECIPES["fast"]
    configs = fast.configs()
    assert list(configs) == [step for step, _ in fast.steps]
    template, *_, whole = configs.values()
    assert template == RunConfig(epochs=2)  # the course template over two epochs
    assert whole == fast.config() == RunConfig(
        model="LeNet5-relu-silu", epochs=2, batch_size=32, optimizer="adam", schedule="one-cycle", lr=3e-3,
        one_cycle_warmup=0.15, label_smoothing=0.1)
    assert all(count_parameters(build_model(cfg.model)) == 60_806 for cfg in configs.values())  # the same architecture
    # the one-epoch recipe: the fast recipe's settings over one epoch, then its own change
    one = RECIPES["one-epoch"].configs()
    assert list(one.values())[0] == dataclasses.replace(whole, epochs=1)
    assert RECIPES["one-epoch"].config() == dataclasses.replace(whole, epochs=1, batch_size=8, lr=2e-3)
    with pytest.raises(ConfigError, match="recipe must be one of"):
        recipe("fastest")


def run(*args) -> subprocess.CompletedProcess:
    """``mnistlib train`` with ``args``, in a fresh process."""
    return subprocess.run([sys.executable, "-m", "mnistlib", "train", *args], capture_output=True, text=True)


@pytest.mark.slow
def test_the_cli_prints_a_recipes_config_that_reads_back(tmp_path):
    shown = run("--recipe", "fast", "--seed", "3", "--dry-run")
    assert shown.returncode == 0 and not list(tmp_path.glob("runs/*"))  # nothing trained
    values = yaml.safe_load(shown.stdout)
    assert RunConfig.from_dict(values) == RECIPES["fast"].config(seed=3)
    (tmp_path / "fast.yaml").write_text(shown.stdout)
    again = run("--config", str(tmp_path / "fast.yaml"), "--dry-run")
    assert again.stdout == shown.stdout
    wrong = run("--recipe", "fast", "--momentum", "0.5", "--dry-run")
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1 and "one-cycle cycles the momentum" in wrong.stderr


def test_adam_one_cycle_and_curve_runs_stack_like_sgd_runs():
    """Runs of one recipe share a stack whatever their optimizer, schedule or curve; different recipes do not."""
    adam = {f"s{s}": dataclasses.replace(RECIPES["fast"].config(seed=s, **TINY), eval_every=5) for s in range(3)}
    sgd = {f"sgd{s}": RunConfig(seed=s, **TINY) for s in range(3)}
    assert stack_groups({**adam, **sgd}) == [["s0", "s1", "s2"], ["sgd0", "sgd1", "sgd2"]]


# ----------------------------------------------------------------------------- curves inside epochs

def test_a_curve_every_k_steps_by_images_seen(mnist, tmp_path):
    cfg = RECIPES["fast"].config(eval_every=7, **TINY)  # 20 steps an epoch, 40 in all
    run = train(cfg, store=RunStore(tmp_path), data=mnist, progress=False)
    curve = run.curve
    assert list(curve.step) == [0, 7, 14, 20, 1, 8, 15, 20]  # every 7th step of the run, and each epoch's end
    assert list(curve.images) == [0, 224, 448, 640, 672, 896, 1120, 1280]
    ends = curve[curve.step == 20]
    assert list(ends.test_acc) == list(run.history.test_acc)  # the epochs' ends are the history's evaluations
    assert curve.test_acc.iloc[-1] > curve.test_acc.iloc[0]
    plain = train(RECIPES["fast"].config(**TINY), store=RunStore(tmp_path), data=mnist, progress=False)
    pd.testing.assert_frame_equal(plain.history.drop(columns="seconds"), run.history.drop(columns="seconds"))
    assert plain.curve.empty  # evaluating changes nothing of the training, and a run without it has no curve


# ----------------------------------------------------------------------------- notebook 8's grid

def test_the_recipe_grid_reuses_the_stored_template_runs_and_sizes_every_profile():
    from mnistlib.report.grids import ORIGINAL_PROTOCOL_STEP
    from mnistlib.report.context import check_parameters

    full = check_parameters(profile="full")
    grid = full.recipes
    # the fast recipe itself (its last step) over the target's 10 seeds, every other step over 5
    # ... and every step of the one-epoch recipe over 10, each a candidate for its target
    assert {g: len(r) for g, r in grid.items()} == {"fast": 5 * 5 + 10, "far": (1 + len(RECIPES["far"].steps)) * 5,
                                                    "sgd": 9, "one-epoch": 2 * 10}
    assert {cfg.epochs for cfg in grid["one-epoch"].values()} == {1}
    assert grid["one-epoch"][(RECIPES["one-epoch"].steps[-1][0], 9)] == dataclasses.replace(
        RECIPES["one-epoch"].config(seed=9), eval_every=937)  # 8 points in the epoch, at batch 8
    template = next(iter(grid["far"]))[0]
    # the far ablation's course template and the SGD recipe's first step are notebook 6's variance runs
    assert all(grid["far"][(template, s)] == full.beyond["variance"][("LeNet5", s)] for s in range(5))
    # ... under the same name: the course template's step is one step of the fast, far and SGD recipes
    assert template == RECIPES["fast"].steps[0][0] == SGD.steps[0][0] == SGD_FULL.steps[0][0]
    assert all(grid["sgd"][(template, s)] == full.beyond["variance"][("LeNet5", s)] for s in range(3))
    assert list(check_parameters(profile="full", grid="full").recipes["sgd"])[-1][0] == SGD_FULL.steps[-1][0]
    fast = {step: cfg for (step, seed), cfg in grid["fast"].items() if seed == 0}
    assert list(fast.values())[-1] == dataclasses.replace(RECIPES["fast"].config(), eval_every=234)  # 8 points an epoch
    assert fast[ORIGINAL_PROTOCOL_STEP] == RunConfig.preset("original", epochs=2, eval_every=750)
    assert {cfg.epochs for (step, _), cfg in grid["far"].items() if step != template} == {RECIPES["far"].config().epochs}
    assert all(cfg.model.startswith("LeNet5") for g in grid.values() for cfg in g.values())
    smoke = check_parameters(profile="smoke").recipes
    assert {seed for _, seed in smoke["fast"]} == {seed for _, seed in smoke["one-epoch"]} == {0, 1}
    assert {cfg.epochs for (step, _), cfg in smoke["far"].items()} == {2}  # capped by the profile's epochs


def test_step_tables_compare_each_step_with_the_one_before():
    from pathlib import Path

    from mnistlib.analysis import speed
    from mnistlib.store.store import HISTORY_COLUMNS, Run

    def fake(final, epochs=2):
        history = pd.DataFrame({"epoch": range(1, epochs + 1), "train_loss": 0.1, "train_acc": 99.0,
                                "test_loss": 0.1, "test_acc": [50.0] * (epochs - 1) + [final], "seconds": 10.0},
                               columns=HISTORY_COLUMNS)
        return Run(RunConfig(epochs=epochs), Path("/nonexistent"), history)

    finals = {"template": [98.0, 98.1, 98.2, 98.1, 98.0], "recipe": [99.0, 99.1, 99.2, 99.05, 98.99]}
    runs = {(step, s): fake(acc) for step, accs in finals.items() for s, acc in enumerate(accs)}
    table = speed.step_table(runs, 99.0)
    assert list(table.index) == ["template", "recipe"]
    assert table.change.iloc[1] == pytest.approx(np.mean(finals["recipe"]) - np.mean(finals["template"]))
    assert table.p_against_step_before.iloc[1] == pytest.approx(2 / 252)  # fully separated: the smallest p
    assert table.verdict.iloc[1] == "different" and table.change_low.iloc[1] < table.change.iloc[1] < table.change_high.iloc[1]
    assert (table.seeds_at_target.iloc[1], table.lowest_seed.iloc[1]) == (4, 98.99)
    fast = speed.fast_target(table)
    assert not fast.met and fast.rule == "every seed"  # one seed at 98.99
    assert speed.far_target(table, target=99.0).met  # the mean, 99.07, is enough for a mean target
    assert not speed.fast_target(table.assign(lowest_seed=99.0, epochs=3)).met  # more than two epochs
    assert speed.fast_target(table.assign(lowest_seed=99.0)).met
    assert not speed.one_epoch_target(table.assign(lowest_seed=99.0)).met  # two epochs: more than one
    assert speed.one_epoch_target(table.assign(lowest_seed=99.0, epochs=1)).met
    answers = speed.answers(table, table).set_index(["question", "subject", "finding"]).value
    assert answers["fast", (99.0, "every seed"), "target"] == "not met"
    assert "one-epoch" not in set(speed.answers(table, table).question)
    one = speed.answers(table, table, one_epoch=table.assign(epochs=1)).set_index(["question", "subject", "finding"]).value
    assert one["one-epoch", (99.0, "every seed"), "target"] == "not met" and one["one-epoch", (), "epochs"] == 1
    assert ("one-epoch", (), "template_final_test_acc") not in one  # its first step is no course template
    assert answers["far", (), "lowest_seed"] == 98.99
    from mnistlib.report.tables import findings_in_words

    words = findings_in_words(speed.answers(table, table)).set_index(["question", "finding"]).value
    assert words["how fast", "target 99% (every seed)"] == "not met"


@pytest.mark.slow
def test_a_one_cycle_warm_up_under_one_step_is_refused_before_the_run_is_written(mnist, tmp_path):
    """The data decide the steps: the check runs before the run's folder exists, so nothing is left behind."""
    cfg = RunConfig(model="CustomMLP_6", epochs=1, schedule="one-cycle", one_cycle_warmup=0.01, train_subset=640,
                    test_subset=100)  # 10 steps: a warm-up of 0.1 step
    store = RunStore(tmp_path / "runs")
    with pytest.raises(ConfigError, match="one_cycle_warmup 0.01 of 10 steps is under one step"):
        train(cfg, store=store, data=mnist, progress=False)
    assert store.run_folders() == []
    out = run("--schedule", "one-cycle", "--one-cycle-warmup", "0.01", "--model", "CustomMLP_6", "--epochs", "1",
              "--train-subset", "640", "--test-subset", "100", "--runs-dir", str(tmp_path / "cli"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "under one step" in out.stderr
    assert not any((tmp_path / "cli").glob("*/config.json"))


def test_noise_at_the_course_template_is_judged_by_the_rule_over_seeds():
    from pathlib import Path

    from mnistlib.analysis import speed
    from mnistlib.store.store import HISTORY_COLUMNS, Run

    def fake(acc):
        history = pd.DataFrame({"epoch": [1, 2], "train_loss": 0.1, "train_acc": 99.0, "test_loss": 0.1,
                                "test_acc": [acc, acc], "seconds": 1.0}, columns=HISTORY_COLUMNS)
        return Run(RunConfig(epochs=2), Path("/nonexistent"), history)

    seeds = lambda mean: [fake(mean + d) for d in (-0.1, -0.05, 0.0, 0.05, 0.1)]  # noqa: E731
    found = speed.noise_at_template(seeds(98.9), {"noise 0.1": seeds(98.95), "noise 0.2": seeds(98.5)}, (1, 2))
    assert found.verdict.to_dict() == {"noise 0.1": "within_spread", "noise 0.2": "different"}
    assert found.loc["noise 0.2", "diff"] == pytest.approx(-0.4) and found.loc["noise 0.1", "seeds"] == 5
    one = speed.noise_at_template([fake(98.9)], {"noise 0.3": [fake(99.5)]}, (1, 2))
    assert one.verdict["noise 0.3"] == "undecided"  # one seed a side: no spread to judge by


def test_a_field_the_recipe_sets_cannot_be_given_under_it():
    """RECIPES['fast'].config(epochs=1) would train the recipe's own epochs: refused, with the way to do it."""
    with pytest.raises(ConfigError, match=r"the fast recipe sets epochs itself; change it on its result instead"):
        RECIPES["fast"].config(epochs=1)
    with pytest.raises(ConfigError, match="sets batch_size, lr itself"):
        RECIPES["far"].configs(lr=0.01, batch_size=8)  # both in its base: every step would override them
    with pytest.raises(ConfigError, match="sets lr itself"):
        SGD.config(lr=0.05)  # its last step sets it
    assert SGD.configs(batch_size=32)[SGD.steps[0][0]].batch_size == 32  # a step changes it later: the ablation
    assert dataclasses.replace(RECIPES["fast"].config(seed=2), epochs=1).epochs == 1
