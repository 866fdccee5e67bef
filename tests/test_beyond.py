"""Beyond the original: the grid, and the analysis that turns runs into tables and sentences."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnistlib import ConfigError, RunConfig, RunStore, stats, train
from mnistlib.analysis import beyond
from mnistlib.report.grids import flat
from mnistlib.store.identity import config_hash
from mnistlib.report.context import check_parameters
from mnistlib.training.cluster import train_many
from mnistlib.store.store import HISTORY_COLUMNS, Run
from mnistlib.original.record import ORIGINAL_LOSS_FLOOR


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


def test_default_grid_sizes_and_reuse_of_the_original_runs():
    settings = check_parameters(profile="full")
    grid = settings.beyond
    assert {g: len(r) for g, r in grid.items()} == {"variance": 15, "lambda_sweep": 16, "long": 2, "activations": 4,
                                                    "pooling": 10, "original_settings": 10}
    # the original's max pooling against the paper's subsampling, 5 random seeds each; the max-pool runs are shared
    assert {config_hash(c) for (name, s), c in grid["pooling"].items() if name.startswith("max")} == \
        {config_hash(c) for (m, s), c in grid["variance"].items() if m == "LeNet5"}
    assert {c.model for c in grid["pooling"].values()} == {"LeNet5", "LeNet5-subsampling"}
    lambdas = sorted({wd for _, wd in grid["lambda_sweep"]})
    assert len(lambdas) >= 8 and lambdas[0] == 1e-6 and lambdas[-1] == 1e-1
    assert {c.epochs for c in grid["long"].values()} == {150}
    original_hashes = {config_hash(c) for c in flat(settings.grid).values()}
    # seed 0 of the variance runs, sigmoid, λ=1e-4..1e-2 are the original grid's own runs: trained once
    assert config_hash(grid["variance"][("LeNet5", 0)]) in original_hashes
    assert config_hash(grid["lambda_sweep"][("LeNet5", 1e-2)]) in original_hashes
    assert config_hash(grid["activations"]["sigmoid (the original's)"]) in original_hashes
    assert grid["activations"]["sigmoid, LeCun's F6 tanh(2x/3)"].model == "LeNet5-lecun"
    original_cfg = grid["original_settings"][(0.0, 0)]
    assert original_cfg.loss == "softmax_then_cross_entropy" and original_cfg.momentum == 0.6


def test_full_grid_is_one_parameter_away():
    full = check_parameters(profile="full", grid="full").beyond
    assert len({wd for _, wd in full["lambda_sweep"]}) == 11
    assert len({s for _, s in full["variance"]}) == 10
    sgd = check_parameters(profile="full", grid="full").recipes["sgd"]
    assert any("noise" in step for step, _ in sgd)
    assert len({step for step, _ in sgd}) == 5
    # the full grid extends the default's SGD recipe: every default recipe run is one of its runs
    assert set(check_parameters(profile="full").recipes["sgd"].values()) <= set(sgd.values())
    small = check_parameters(profile="smoke", seeds=2, lambdas=[1e-3], long_factor=2, recipe_seeds=2).beyond
    assert len(small["variance"]) == 6 and len(small["lambda_sweep"]) == 2


@pytest.mark.parametrize("values,match", [
    ({"grid": "huge"}, "grid must be one of default, full"), ({"seeds": 1}, "seeds must be >= 2"),
    ({"lambdas": [-1]}, "lambdas must be >= 0"), ({"long_factor": 1.5}, "long_factor must be an integer"),
])
def test_bad_grid_parameters(values, match):
    with pytest.raises(ConfigError, match=match):
        check_parameters(profile="smoke", **values)


def test_permutation_test_exact_values():
    assert stats.permutation_test([1, 2], [3, 4]) == pytest.approx(2 / 6)
    assert stats.permutation_test([1, 2, 3], [1, 2, 3]) == 1.0
    assert stats.permutation_test([10, 11, 12, 13, 14], [1, 2, 3, 4, 5]) == pytest.approx(2 / 252)


def test_ranking_verdicts_follow_the_data():
    from mnistlib.report.tables import format_spread

    groups = {"LeNet5": [fake_run(flat_acc(99.0 + 0.05 * s)) for s in range(5)],
              "CustomMLP_5": [fake_run(flat_acc(97.5 + 0.1 * s)) for s in range(5)],
              "CustomMLP_6": [fake_run(flat_acc(97.5 + 0.1 * (4 - s))) for s in range(5)]}
    tests = beyond.compare_pairs(groups, (1, 10), [("LeNet5", "CustomMLP_6"), ("CustomMLP_5", "CustomMLP_6")])
    assert tests.verdict.tolist() == ["different", "within_spread"]  # the rule's verdicts, nothing else
    assert tests["diff"].round(4).tolist() == [1.4, 0.0] and tests.p.iloc[0] == pytest.approx(2 / 252)
    assert tests.low.iloc[0] < 1.4 < tests.high.iloc[0] and tests.low.iloc[1] < 0 < tests.high.iloc[1]
    assert (tests.a_min.iloc[0], tests.a_max.iloc[0]) == (99.0, pytest.approx(99.2))
    two = {m: runs[:2] for m, runs in groups.items()}
    few = beyond.compare_pairs(two, (1, 10), [("LeNet5", "CustomMLP_6")])
    assert few.verdict.iloc[0] == "undecided" and few.p.iloc[0] == pytest.approx(1 / 3)  # 2 against 2: p ≥ 1/3
    spread = beyond.across_seeds(groups, (1, 10))
    assert spread.loc["LeNet5", "mean_test_acc"] == pytest.approx(99.1)
    assert spread.loc["LeNet5", "mean_test_acc_std"] == pytest.approx(np.std([99.0, 99.05, 99.1, 99.15, 99.2], ddof=1))
    assert format_spread(spread).loc["LeNet5", "mean test accuracy (%)"] == "99.10 ± 0.08"
    band = stats.bands(groups["LeNet5"], "test_acc")
    assert band["min"].iloc[0] == 99.0 and band["max"].iloc[0] == 99.2


def test_sweep_finds_the_collapse():
    runs = {("LeNet5", wd): fake_run(flat_acc(acc), train_acc=flat_acc(acc + gap))
            for wd, acc, gap in [(1e-5, 98.9, 0.6), (1e-4, 99.0, 0.4), (1e-3, 98.5, 0.1), (1e-2, 11.35, 0.0)]}
    table = beyond.sweep_table(runs, (1, 10))
    assert table.collapsed.tolist() == [False, False, False, True]
    assert table.gap.round(2).tolist() == [0.6, 0.4, 0.1, 0.0]
    found = beyond.sweep_findings(table).loc["LeNet5"]
    assert (found.first_collapse, found.largest_training, found.largest_lambda) == (1e-2, 1e-3, 1e-2)
    assert (round(found.gap_at_smallest, 2), round(found.gap_at_largest, 2), found.smallest_training) == (0.6, 0.1, 1e-5)
    assert "best_lambda" not in found  # one seed per λ: no λ is ranked above another
    none_collapse = beyond.sweep_findings(table[table["lambda"] < 1e-2]).loc["LeNet5"]
    assert pd.isna(none_collapse.first_collapse) and none_collapse.largest_training == 1e-3


def test_turning_point_marks_the_upturn_or_says_none():
    epochs = np.arange(1, 151)
    u_shape = 0.03 + 1e-5 * (epochs - 40) ** 2  # lowest at 40, rising after
    falling = np.linspace(0.5, 0.01, 150)
    turn = stats.turning_point(fake_run(flat_acc(98, 150), test_loss=u_shape, train_loss=falling).history)
    assert turn["turned_upward"] and 38 <= turn["min_test_loss_epoch"] <= 42 and turn["train_loss_kept_falling"]
    flat_turn = stats.turning_point(fake_run(flat_acc(98, 150), test_loss=falling, train_loss=falling).history)
    assert not flat_turn["turned_upward"] and flat_turn["min_test_loss_epoch"] == 150


def test_the_original_settings_against_ours_over_seeds():
    floor = np.full(10, ORIGINAL_LOSS_FLOOR + 0.01)
    seeds = lambda acc, **kw: [fake_run(flat_acc(acc + 0.01 * s), **kw) for s in range(5)]  # noqa: E731
    original_plain, chance, fine = seeds(98.6, train_loss=floor), seeds(11.35), seeds(98.0)
    ours = {0.0: seeds(98.9), 1e-2: chance}
    found = beyond.original_settings({0.0: original_plain, 1e-2: chance}, ours, (1, 10))
    assert found.above_floor and found.failed == (5, 5) and found.ours_failed == (5, 5) and found.collapse == "both"
    assert found.lowest_train_loss == pytest.approx(ORIGINAL_LOSS_FLOOR + 0.01)
    assert (found.mean_test_acc, found.ours_mean_test_acc) == (pytest.approx(98.62), pytest.approx(98.92))
    assert found.against_ours.verdict == "different" and found.against_ours.diff == pytest.approx(-0.3)
    found = beyond.original_settings({0.0: original_plain, 1e-2: chance}, {**ours, 1e-2: fine}, (1, 10))
    assert found.collapse == "theirs"
    below = beyond.original_settings({0.0: seeds(98.6, train_loss=floor - 0.1), 1e-2: fine}, ours, (1, 10))
    assert not below.above_floor and below.collapse == "ours"
    assert beyond.original_settings({0.0: original_plain, 1e-2: fine}, {**ours, 1e-2: fine}, (1, 10)).collapse == "neither"
    some = beyond.original_settings({0.0: original_plain, 1e-2: chance[:2] + fine[2:]}, ours, (1, 10))
    assert some.failed == (2, 5) and some.collapse == "some"


def test_answers_are_numbers_and_verdicts():
    groups = {
        "variance": {(m, s): fake_run(flat_acc(base + 0.1 * s)) for m, base in
                     (("LeNet5", 99.0), ("CustomMLP_5", 97.5), ("CustomMLP_6", 97.6)) for s in range(3)},
        "lambda_sweep": {("LeNet5", wd): fake_run(flat_acc(acc)) for wd, acc in ((1e-4, 99.0), (1e-2, 11.35))},
        "long": {"LeNet5": fake_run(flat_acc(98, 30))},
        "activations": {"sigmoid": fake_run(flat_acc(98.9)), "ReLU": fake_run(flat_acc(99.2))},
        "original_settings": {(0.0, 0): fake_run(flat_acc(98.6)), (1e-2, 0): fake_run(flat_acc(11.35))},
    }
    found = beyond.answers(groups, (1, 10))
    answers = found.set_index(["question", "subject", "finding"]).value  # ids: rewording a sentence changes none
    assert answers["variance", ("LeNet5",), "mean_test_acc"] == pytest.approx(99.1)
    assert answers["variance", (), "seeds"] == 3
    assert answers["variance", ("LeNet5", "CustomMLP_6"), "difference"] == pytest.approx(1.4)
    assert answers["variance", ("LeNet5", "CustomMLP_6"), "verdict"] == "undecided"  # 3 against 3: p ≥ 0.1
    assert answers["lambda_sweep", ("LeNet5",), "first_collapse"] == 1e-2
    assert answers["lambda_sweep", ("LeNet5",), "ranking"] == answers["activations", (), "ranking"] == "one_seed"
    assert answers["activations", ("ReLU",), "mean_test_acc"] == pytest.approx(99.2)
    assert answers["original_settings", (), "strongest"] == "collapses"
    assert answers["long", ("LeNet5", 30), "turned_upward"] is False
    # the words a reader sees, at the edge
    from mnistlib.report.tables import findings_in_words, format_findings

    words = findings_in_words(found).set_index(["question", "finding"]).value
    assert words["variance across seeds", "LeNet-5 mean test accuracy (%)"] == pytest.approx(99.1)
    assert words["variance across seeds", "LeNet-5 − CustomMLP_6 (points)"] == pytest.approx(1.4)
    assert words["λ sweep, LeNet-5", "smallest λ that collapses"] == 1e-2
    assert words["30 epochs, LeNet-5", "test loss turns upward"] == "no"
    shown = format_findings(found).value
    assert shown["λ sweep, LeNet-5", "ranking"] == "one seed each: no ranking"
    assert shown["variance across seeds", "random seeds"] == "3"
    assert shown["variance across seeds", "LeNet-5 vs CustomMLP_6"] == "too few random seeds to decide"
    assert shown["variance across seeds", "LeNet-5 vs CustomMLP_6: p"] == "0.100"


def test_train_many_trains_a_repeated_config_once_and_continues_longer_runs(mnist, tmp_path, dask_scheduler):
    tiny = dict(model="CustomMLP_6", train_subset=600, test_subset=300, subset_mode="stratified")
    configs = {"short": RunConfig(epochs=2, **tiny), "same as short": RunConfig(epochs=2, **tiny),
               "long": RunConfig(epochs=3, **tiny)}
    lines = []
    names = train_many(configs, runs_dir=tmp_path, log=lines.append, scheduler=dask_scheduler)
    assert names["short"] == names["same as short"]
    assert lines[0].startswith("training 2 runs")
    run_json = (tmp_path / names["long"] / "run.json").read_text()
    assert names["short"] in run_json  # the 3-epoch run started from the 2-epoch one
    alone = train(configs["long"], store=RunStore(tmp_path / "alone"), data=mnist, progress=False)
    stored = RunStore(tmp_path).load(names["long"])
    pd.testing.assert_frame_equal(stored.history.drop(columns="seconds"), alone.history.drop(columns="seconds"),
                                  atol=1e-5)


def test_stored_beyond_trains_nothing(mnist, tmp_path):
    from mnistlib.report.context import setup_notebook

    ctx = setup_notebook("00_test", profile="smoke", seeds=2, lambdas=[1e-3], recipe_seeds=2, runs_dir=str(tmp_path))
    assert ctx.stored_beyond() is None and not list(tmp_path.iterdir())


def test_runs_group_by_their_key_across_seeds_and_the_smallest_p_is_the_splits_count():
    from mnistlib.analysis.seeds import by_key

    runs = {("LeNet5", 0): "a", ("CustomMLP_6", 0): "c", ("LeNet5", 1): "b"}
    assert by_key(runs) == {"LeNet5": ["a", "b"], "CustomMLP_6": ["c"]}
    assert stats.smallest_p(5, 5) == pytest.approx(2 / 252) == stats.permutation_test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert stats.smallest_p(3, 2) == pytest.approx(0.1) == stats.permutation_test([1, 2, 3], [8, 9])
    assert stats.permutation_test([1, 2, 3], [8, 9]) == min(stats.permutation_test(a, [9, 8]) for a in ([1, 2, 3], [1, 2, 4]))


def test_over_fitting_in_the_loss_is_told_apart_from_over_fitting_in_the_accuracy():
    epochs = np.arange(1, 151)
    u_shape = 0.03 + 1e-5 * (epochs - 40) ** 2  # test loss lowest at 40, rising after
    falling = np.linspace(0.5, 0.01, 150)
    steady = stats.turning_point(fake_run(flat_acc(98.9, 150), test_loss=u_shape, train_loss=falling).history,
                                 window=(20, 49))
    assert steady["turned_upward"] and steady["window_test_acc"] == pytest.approx(98.9)
    found = beyond.overfitting(steady, spread=0.07)
    assert found["in_loss"] and found["in_accuracy"] is False and found["accuracy_change"] == pytest.approx(0.0)
    sliding = np.where(epochs > 100, 98.5, 98.9)
    worse = stats.turning_point(fake_run(sliding, test_loss=u_shape, train_loss=falling).history, window=(20, 49))
    assert beyond.overfitting(worse, spread=0.07)["in_accuracy"] is True  # 0.4 points below, the spread 0.07
    assert beyond.overfitting(worse, spread=float("nan"))["in_accuracy"] is None  # no spread: no verdict
