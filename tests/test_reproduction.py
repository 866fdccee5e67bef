"""Notebook 7's grid and analysis: collapse detection, spread against the original, the sentences."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mnistlib import RunConfig
from mnistlib.original import record as original
from mnistlib.report.context import check_parameters
from mnistlib.store.identity import config_hash
from mnistlib.analysis.reproduction import (batch_effect, collapse_counts, collapse_table, interval_summary,
                                           interval_table)
from mnistlib.store.store import Run
from mnistlib.stats import health


def history(acc, loss=None):
    loss = loss or [1.5] * len(acc)
    return pd.DataFrame({"epoch": range(len(acc)), "train_loss": loss, "train_acc": acc, "test_loss": loss,
                         "test_acc": acc, "seconds": 1.0})


def fake_run(acc, model="LeNet5", seed_=0):
    return Run(RunConfig.preset("original", model=model, seed=seed_, epochs=len(acc) - 1), Path("/nowhere"), history(acc))


def test_collapse_epoch():
    assert health(original.history("CustomMLP_1")).collapse_epoch == 45  # the original's own late collapse
    assert health(original.history("LeNet5")).collapse_epoch is None
    at_chance = health(original.history("LeNet-5, λ=1e-2"))  # never learned: at chance, not collapsed
    assert at_chance.collapse_epoch is None and at_chance.state.value == "at chance"
    assert health(history([10, 60, 90, 15, 95, 12, 11])).collapse_epoch == 5  # the stretch that ends the run
    assert health(history([10, 60, 90, 15, 95])).collapse_epoch is None


def test_grid_sizes_and_reuse():
    settings = check_parameters(profile="full")
    grid = settings.reproduce
    # 5 random seeds a network in the full profile (4 in the quick one)
    assert {g: len(r) for g, r in grid.items()} == {"original_protocol": 15, "our_protocol": 5, "batch_10_settings": 10}
    assert len(check_parameters(profile="quick").reproduce["original_protocol"]) == 12
    assert all(c.protocol == "original" and c.batch_size == 10 for c in grid["original_protocol"].values())
    assert all(grid["batch_10_settings"][(0.0, s)] == grid["original_protocol"][("LeNet5", s)] for s in range(5))  # trained once
    original_grid_hashes = {config_hash(c) for g in settings.grid.values() for c in g.values()}
    assert config_hash(grid["our_protocol"][("CustomMLP_1", 0)]) in original_grid_hashes
    everything = check_parameters(profile="full", reproduce="all", reproduce_seeds=4).reproduce
    assert len(everything["all_original_runs"]) == 34 and len(everything["original_protocol"]) == 12
    noisy = everything["all_original_runs"]["CustomMLP_5, noise 0.2"]
    assert (noisy.noise_std, noisy.noise_mode, noisy.model) == (0.2, "fixed", "CustomMLP_5")


@pytest.mark.parametrize("kwargs, match", [({"reproduce": "some"}, "reproduce must be one of default, all"),
                                           ({"reproduce_seeds": 1}, "reproduce_seeds must be >= 2")])
def test_bad_parameters(kwargs, match):
    from mnistlib import ConfigError

    with pytest.raises(ConfigError, match=match):
        check_parameters(profile="smoke", **kwargs)


def test_the_interval_table_passes_a_faithful_reproduction_and_judges_collapses_by_their_count():
    published = original.history("LeNet5")
    near = [fake_run(list(published.test_acc + d), seed_=i) for i, d in enumerate((-0.2, -0.1, 0.05, 0.1, 0.2))]
    row = interval_table({"LeNet5": near}, (20, 49)).loc[("LeNet5", "mean_test_acc")]
    assert row.inside and row.judged_by == "interval" and row.seeds == 5 and row.low < row.original < row.high
    assert row.gap_in_stds == pytest.approx((row.original - row.ours_mean) / row.ours_std) and 0 <= row.rate <= 1
    far = [fake_run(list(published.test_acc + d), seed_=i) for i, d in enumerate((1.0, 1.1, 1.2))]
    row = interval_table({"LeNet5": far}, (20, 49)).loc[("LeNet5", "mean_test_acc")]
    assert not row.inside and row.gap_in_stds < -5
    mlp = original.history("CustomMLP_1")
    falling = [fake_run(list(mlp.test_acc), model="CustomMLP_1"),
               fake_run(list(mlp.test_acc.clip(lower=90)), model="CustomMLP_1", seed_=1)]
    rows = interval_table({"CustomMLP_1": falling}, (20, 49))
    assert set(rows.judged_by) == {"collapses"} and rows.inside.isna().all()
    both = interval_table({"LeNet5": near, "CustomMLP_1": falling}, (20, 49))
    summary = interval_summary(both)
    assert (summary.judged, summary.by_collapses, summary.level) == (6, ("CustomMLP_1",), 0.95)
    assert summary.inside == int(both.loc["LeNet5"].inside.sum()) and summary.expected == pytest.approx(0.95 * 6)
    assert summary.rate == pytest.approx(both.loc["LeNet5"].rate.mean())


def test_collapse_table_and_counts():
    table = collapse_table({"published": [("the original's", original.history("CustomMLP_1"))],
                            "original_protocol": [("seed 0", history([10, 90, 95])), ("seed 1", history([10, 90, 12]))]})
    assert table.collapsed.tolist() == [True, False, True] and table.collapse_epoch.tolist()[::2] == [45, 2]
    counts = collapse_counts(table)
    assert counts.to_dict("index") == {"published": {"runs": 1, "collapsed": 1, "epochs": [45]},
                                       "original_protocol": {"runs": 2, "collapsed": 1, "epochs": [2]}}


def test_batch_effect_is_the_rules_over_seeds():
    at_10, at_64 = [98.5, 98.55, 98.45, 98.5, 98.52], [94.2, 94.1, 94.3, 94.2, 94.25]
    effect = batch_effect(at_10, at_64, original.table().loc["LeNet-5"])
    assert (effect.at_10, effect.at_64) == (pytest.approx(98.504), pytest.approx(94.21)) and effect.explains
    assert effect.comparison.verdict == "different" and round(effect.published, 2) == 98.59
    close = batch_effect([94.3, 94.1, 94.2, 94.25, 94.2], at_64, original.table().loc["LeNet-5"])
    assert not close.explains and close.comparison.verdict == "within_spread"  # 0.04 points: within the spread
    assert not batch_effect([98.5], [94.2], original.table().loc["LeNet-5"]).explains  # one seed each: undecided


def test_the_report_pretrains_every_grid_without_labels_colliding():
    """The runner merges the original's, notebook 6's and notebook 7's runs by label: none may hide another."""
    from mnistlib.report.grids import flat, flat_beyond

    settings = check_parameters(profile="full")
    parts = [flat(settings.grid), flat_beyond(settings.beyond), flat_beyond(settings.reproduce)]
    assert sum(len(p) for p in parts) == len({label for p in parts for label in p})


def test_only_the_originals_recorded_curves_are_drawn_in_its_style():
    from mnistlib.report import plots

    curves = {"the original's published run: published": original.history("CustomMLP_1"),
              "the original's protocol (ours): seed 0": history([10, 90, 95]),
              "the original's protocol (ours): seed 1": history([10, 90, 12])}
    fig = plots.plot_histories(curves, recorded=["the original's published run: published"])
    lines = fig.axes[0].get_lines()
    assert [line.get_linestyle() for line in lines] == ["--", "-", "-"]
    assert len({line.get_color() for line in lines[1:]}) == 2  # our runs tell apart in the legend


def test_the_cost_of_the_originals_34_runs_at_the_measured_pace():
    from mnistlib.analysis.reproduction import all_runs_estimate

    timed = lambda model, seconds: Run(RunConfig.preset("original", model=model, epochs=2), Path("/nowhere"),  # noqa: E731
                                       history([10, 50, 60]).assign(seconds=seconds))
    cost = all_runs_estimate({"LeNet5": [timed("LeNet5", 10.0)], "CustomMLP_1": [timed("CustomMLP_1", 2.0)],
                              "CustomMLP_6": [timed("CustomMLP_6", 3.0)]}, epochs=50)
    counts = original.run_table().model.value_counts()
    assert (cost.lenet_runs, cost.mlp_runs) == (counts["LeNet5"], 34 - counts["LeNet5"]) == (7, 27)
    assert (cost.lenet_epoch_seconds, cost.mlp_epoch_seconds) == (10.0, 3.0)  # the slower MLP measured
    assert cost.worker_hours == pytest.approx((7 * 10 + 27 * 3) * 50 / 3600)


def test_the_digits_two_runs_get_wrong_and_those_both_do():
    from mnistlib.analysis.reproduction import shared_mistakes

    def predicted(index, labels, answers):
        proba = np.eye(10)[answers]
        return {"split": "test", "index": np.array(index), "label": np.array(labels), "proba": proba}

    theirs = predicted([0, 1, 2, 3], [1, 2, 3, 4], [1, 0, 0, 4])   # wrong on images 1 and 2
    ours = predicted([1, 2, 3], [2, 3, 4], [2, 0, 0])              # wrong on 2 and 3 (it saw images 1–3)
    found = shared_mistakes(theirs, ours)
    assert (found.theirs, found.theirs_images, found.ours, found.ours_images, found.both) == (2, 4, 2, 3, 1)
    assert shared_mistakes(theirs, {**ours, "split": "train"}).both == 0  # other images altogether
