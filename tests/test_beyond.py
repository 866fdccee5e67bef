"""Beyond the seed: the grid, and the analysis that turns runs into tables and sentences."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnistlib import ConfigError, RunConfig, RunStore, beyond, stats, train
from mnistlib.grids import RECIPE_STEPS, flat
from mnistlib.notebook import check_parameters
from mnistlib.cluster import train_many
from mnistlib.runs import HISTORY_COLUMNS, Run
from mnistlib.seed import SEED_LOSS_FLOOR


def fake_run(test_acc, train_acc=None, test_loss=None, train_loss=None, **config) -> Run:
    """A Run with a synthetic history (no training): accuracies/losses per epoch."""
    test_acc = np.asarray(test_acc, float)
    n = len(test_acc)
    history = pd.DataFrame({
        "epoch": np.arange(1, n + 1),
        "train_loss": np.asarray(train_loss if train_loss is not None else np.linspace(1, 0.1, n), float),
        "train_acc": np.asarray(train_acc if train_acc is not None else test_acc + 1, float),
        "test_loss": np.asarray(test_loss if test_loss is not None else np.linspace(1, 0.2, n), float),
        "test_acc": test_acc, "seconds": np.ones(n)}, columns=HISTORY_COLUMNS)
    return Run(RunConfig(epochs=n, **config), Path("/nonexistent"), history)


def flat_acc(value, n=10, wobble=0.0):
    return np.full(n, value) + wobble * np.sin(np.arange(n))


def test_default_grid_sizes_and_reuse_of_the_seed_runs():
    settings = check_parameters(profile="full")
    grid = settings.beyond
    assert {g: len(r) for g, r in grid.items()} == {"variance": 15, "lambda_sweep": 16, "long": 2, "activations": 4,
                                                    "seed_settings": 2, "recipe": 9}
    lambdas = sorted({wd for _, wd in grid["lambda_sweep"]})
    assert len(lambdas) >= 8 and lambdas[0] == 1e-6 and lambdas[-1] == 1e-1
    assert {c.epochs for c in grid["long"].values()} == {150}
    seed_hashes = {c.config_hash() for c in flat(settings.grid).values()}
    # seed 0 of the variance runs, sigmoid, λ=1e-4..1e-2 are the seed grid's own runs: trained once
    assert grid["variance"][("LeNet5", 0)].config_hash() in seed_hashes
    assert grid["lambda_sweep"][("LeNet5", 1e-2)].config_hash() in seed_hashes
    assert grid["activations"]["sigmoid (the seed)"].config_hash() in seed_hashes
    assert grid["activations"]["sigmoid, LeCun's F6 tanh(2x/3)"].model == "LeNet5-lecun"
    first_step = RECIPE_STEPS[0][0]
    assert all(grid["recipe"][(first_step, s)] == grid["variance"][("LeNet5", s)] for s in range(3))
    last = grid["recipe"][(RECIPE_STEPS[-1][0], 0)]
    assert last.model == "LeNet5" and last.epochs == 50  # the architecture and the 50-epoch budget stay
    seed_cfg = grid["seed_settings"][0.0]
    assert seed_cfg.loss == "seed_softmax_ce" and seed_cfg.momentum == 0.6


def test_full_grid_is_one_parameter_away():
    full = check_parameters(profile="full", grid="full").beyond
    assert len({wd for _, wd in full["lambda_sweep"]}) == 11
    assert len({s for _, s in full["variance"]}) == 10
    assert any("noise" in step for step, _ in full["recipe"])
    assert len({step for step, _ in full["recipe"]}) == 5
    # the full grid extends the default's recipe: every default recipe run is one of its runs
    default = check_parameters(profile="full").beyond
    assert set(default["recipe"].values()) <= set(full["recipe"].values())
    small = check_parameters(profile="smoke", seeds=2, lambdas=[1e-3], long_factor=2, recipe_seeds=2).beyond
    assert len(small["variance"]) == 6 and len(small["lambda_sweep"]) == 2


@pytest.mark.parametrize("values,match", [
    ({"grid": "huge"}, "grid must be one of default, full"), ({"seeds": 1}, "seeds must be an integer >= 2"),
    ({"lambdas": [-1]}, "lambdas must hold numbers >= 0"), ({"long_factor": 1.5}, "long_factor must be an integer"),
])
def test_bad_grid_parameters(values, match):
    with pytest.raises(ConfigError, match=match):
        check_parameters(profile="smoke", **values)


def test_permutation_test_exact_values():
    assert stats.permutation_test([1, 2], [3, 4]) == pytest.approx(2 / 6)
    assert stats.permutation_test([1, 2, 3], [1, 2, 3]) == 1.0
    assert stats.permutation_test([10, 11, 12, 13, 14], [1, 2, 3, 4, 5]) == pytest.approx(2 / 252)


def test_ranking_verdicts_follow_the_data():
    groups = {"LeNet5": [fake_run(flat_acc(99.0 + 0.05 * s)) for s in range(5)],
              "CustomMLP_5": [fake_run(flat_acc(97.5 + 0.1 * s)) for s in range(5)],
              "CustomMLP_6": [fake_run(flat_acc(97.5 + 0.1 * (4 - s))) for s in range(5)]}
    tests = beyond.compare_pairs(groups, (1, 10), [("LeNet5", "CustomMLP_6"), ("CustomMLP_5", "CustomMLP_6")])
    assert tests.differ.tolist() == [True, False]
    text = beyond.variance_conclusion(tests, 5)
    assert "**LeNet-5 is above CustomMLP_6**" in text and "not distinguishable" in text
    two = {m: runs[:2] for m, runs in groups.items()}
    text = beyond.variance_conclusion(beyond.compare_pairs(two, (1, 10), [("LeNet5", "CustomMLP_6")]), 2)
    assert "2 seeds cannot separate" in text
    spread = beyond.across_seeds(groups, (1, 10))
    assert spread.loc["LeNet5", "mean_test_acc"] == pytest.approx(99.1)
    assert spread.loc["LeNet5", "mean_test_acc_std"] == pytest.approx(np.std([99.0, 99.05, 99.1, 99.15, 99.2], ddof=1))
    assert beyond.format_pm(spread).loc["LeNet5", "mean_test_acc"] == "99.10 ± 0.08"
    band = stats.bands(groups["LeNet5"], "test_acc")
    assert band["min"].iloc[0] == 99.0 and band["max"].iloc[0] == 99.2


def test_sweep_finds_the_collapse():
    runs = {("LeNet5", wd): fake_run(flat_acc(acc), train_acc=flat_acc(acc + gap))
            for wd, acc, gap in [(1e-5, 98.9, 0.6), (1e-4, 99.0, 0.4), (1e-3, 98.5, 0.1), (1e-2, 11.35, 0.0)]}
    table = beyond.sweep_table(runs, (1, 10))
    assert table.collapsed.tolist() == [False, False, False, True]
    assert table.gap.round(2).tolist() == [0.6, 0.4, 0.1, 0.0]
    text = beyond.sweep_conclusion(table)
    assert "best λ = 0.0001" in text and "collapses to chance from λ = 0.01" in text and "largest λ that still trains: 0.001" in text
    assert "0.60 → 0.10" in text
    text = beyond.sweep_conclusion(table, {"LeNet-5": 0.15})
    assert "λ = 1e-05, 0.0001 are within one seed standard deviation (0.15 points)" in text


def test_turning_point_marks_the_upturn_or_says_none():
    epochs = np.arange(1, 151)
    u_shape = 0.03 + 1e-5 * (epochs - 40) ** 2  # lowest at 40, rising after
    falling = np.linspace(0.5, 0.01, 150)
    turn = stats.turning_point(fake_run(flat_acc(98, 150), test_loss=u_shape, train_loss=falling).history)
    assert turn["turned_upward"] and 38 <= turn["min_test_loss_epoch"] <= 42
    flat_turn = stats.turning_point(fake_run(flat_acc(98, 150), test_loss=falling, train_loss=falling).history)
    assert not flat_turn["turned_upward"] and flat_turn["min_test_loss_epoch"] == 150
    table = pd.DataFrame({"LeNet-5": flat_turn, "CustomMLP_6": turn}).T.infer_objects()
    text = beyond.long_conclusion(table)
    assert "LeNet-5: not within 150 epochs" in text and "CustomMLP_6: yes." in text


def test_seed_settings_conclusion_branches():
    floor = np.full(10, SEED_LOSS_FLOOR + 0.01)
    seed_plain = fake_run(flat_acc(98.6), train_loss=floor)
    chance = fake_run(flat_acc(11.35))
    fine = fake_run(flat_acc(98.0))
    ours = {0.0: fake_run(flat_acc(98.9)), 1e-2: chance}
    text = beyond.seed_settings_conclusion({0.0: seed_plain, 1e-2: chance}, ours, (1, 10))
    assert "above the floor" in text and "with both" in text
    text = beyond.seed_settings_conclusion({0.0: seed_plain, 1e-2: chance}, {**ours, 1e-2: fine}, (1, 10))
    assert "explain its collapse" in text and "not** with ours" in text


def test_ablation_table_and_target():
    steps = [s for s, _ in RECIPE_STEPS]
    finals = {steps[0]: [98.9, 98.95, 99.0], steps[1]: [99.1, 99.1, 99.1], steps[2]: [99.3, 99.35, 99.4]}
    runs = {(step, s): fake_run([50, acc]) for step, accs in finals.items() for s, acc in enumerate(accs)}
    table = beyond.ablation_table(runs)
    assert list(table.index) == steps[:3]
    assert table.adds.round(2).tolist()[1:] == [0.15, 0.25]
    assert "**met**" in beyond.recipe_conclusion(table) and "60,806 parameters" in beyond.recipe_conclusion(table)
    assert "**not met**" in beyond.recipe_conclusion(table, target=99.5)


def test_train_many_trains_a_repeated_config_once_and_continues_longer_runs(mnist, tmp_path):
    tiny = dict(model="CustomMLP_6", train_subset=600, test_subset=300, subset_mode="stratified")
    configs = {"short": RunConfig(epochs=2, **tiny), "same as short": RunConfig(epochs=2, **tiny),
               "long": RunConfig(epochs=3, **tiny)}
    lines = []
    names = train_many(configs, workers=2, runs_dir=tmp_path, log=lines.append)
    assert names["short"] == names["same as short"]
    assert lines[0].startswith("training 2 runs")
    run_json = (tmp_path / names["long"] / "run.json").read_text()
    assert names["short"] in run_json  # the 3-epoch run started from the 2-epoch one
    alone = train(configs["long"], store=RunStore(tmp_path / "alone"), data=mnist, progress=False)
    stored = RunStore(tmp_path).load(names["long"])
    pd.testing.assert_frame_equal(stored.history.drop(columns="seconds"), alone.history.drop(columns="seconds"),
                                  atol=1e-5)


def test_stored_beyond_trains_nothing(mnist, tmp_path):
    from mnistlib.notebook import setup_notebook

    ctx = setup_notebook("00_test", profile="smoke", seeds=2, lambdas=[1e-3], recipe_seeds=2, runs_dir=str(tmp_path))
    assert ctx.stored_beyond() is None and not list(tmp_path.iterdir())
