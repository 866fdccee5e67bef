"""The words a reader sees, from one module: run labels, findings and headers."""
import itertools

import pytest

from mnistlib import RunConfig
from mnistlib.report.grids import flat, original_grid
from mnistlib.words import COLUMNS, FINDINGS, column_text, finding_text, question_text, run_description, run_label


def test_a_run_of_the_originals_grid_is_described_as_the_original_spells_it():
    for label, cfg in flat(original_grid()).items():
        if cfg.noise_mode == "per-batch":
            assert run_description(cfg) == label == run_label(cfg.model, cfg.weight_decay, cfg.noise_std)
        else:
            assert run_description(cfg) == label  # 'LeNet-5, noise 0.1, drawn once'


def test_runs_that_differ_are_described_apart():
    """Legends, menus and summarize's index use the description: two different runs never share one."""
    cfgs = [RunConfig(), RunConfig(loss="softmax_then_cross_entropy"), RunConfig(noise_std=0.1),
            RunConfig(noise_std=0.1, noise_mean=0.2), RunConfig(noise_std=0.1, noise_mode="fixed"), RunConfig(seed=1),
            RunConfig(train_subset=600), RunConfig(train_subset=600, subset_mode="stratified"), RunConfig(epochs=20),
            RunConfig(optimizer="adam"), RunConfig.preset("original"), RunConfig(weight_decay=1e-3, noise_std=0.2),
            RunConfig.preset("original", origin="original-checkpoint"), RunConfig(eval_every=10), RunConfig(shift=1)]
    words = [run_description(cfg) for cfg in cfgs]
    assert len(set(words)) == len(words), [w for w, n in itertools.groupby(sorted(words)) if len(list(n)) > 1]
    assert run_description(RunConfig(name="my run", seed=3)) == "my run"
    assert run_description(RunConfig(model="CustomMLP_6", optimizer="adam", lr=1e-3)) == \
        "CustomMLP_6, Adam optimizer, lr 0.001"


def test_findings_and_questions_in_words():
    assert question_text("lambda_sweep", ("LeNet5",)) == "λ sweep, LeNet-5"
    assert question_text("long", ("LeNet5", 150)) == "150 epochs, LeNet-5"
    assert finding_text("variance", "difference", ("LeNet5", "CustomMLP_6")) == "LeNet-5 − CustomMLP_6 (points)"
    assert finding_text("fast", "target", (99.0, "every seed")) == "target 99% (every seed)"
    assert finding_text("long", "turned_upward", ("LeNet5", 150)) == COLUMNS["turned_upward"]  # a column's own words
    with pytest.raises(KeyError, match="no words for finding 'nonsense'"):
        finding_text("far", "nonsense")
    assert not any(key in COLUMNS and template == COLUMNS[key] for key, template in FINDINGS.items())  # said once


def test_a_column_is_worded_once():
    assert column_text("mean_test_acc") == "mean test accuracy (%)"
    assert column_text("original_mean_test_acc") == "the original's mean test accuracy (%)"
    assert column_text("mean_test_acc_std") == "± mean test accuracy (%)"
    assert column_text("train_loss") == "training loss" and column_text("gap") == "training − test accuracy (points)"
    assert column_text("some_new_column") == "some new column"


def test_a_best_is_named_only_where_the_rule_sets_it_apart_and_each_mean_comes_with_its_spread():
    from mnistlib.difference import compare, leader
    from mnistlib.words import comparison_text, leader_text, mean_std_text, seeds_range

    apart = leader({"a": [1, 2, 3, 4, 5], "b": [6, 7, 8, 9, 10]})
    assert leader_text(apart) == "**b** (8.00 ± 1.58%; 5 random seeds each), ahead of every other by the rule"
    close = leader({"a": [1, 2, 3, 4, 5], "b": [1.5, 2.5, 3.5, 4.5, 5.5]})
    assert leader_text(close, bold=False).startswith("no single best: b (3.50 ± 1.58%) and a (3.00 ± 1.58%), within")
    few = leader({"a": [1, 2], "b": [8, 9]})
    assert leader_text(few, highest=False).endswith("too few random seeds to tell them apart; 2 random seeds each")
    assert mean_std_text([98.8, 98.9]) == "98.85 ± 0.07 (2 random seeds)" and mean_std_text([98.8]) == "98.80 (1 random seed)"
    assert comparison_text(compare([2, 3, 4, 5, 6], [1, 2, 3, 4, 5])).endswith("p = 0.444): within the spread between random seeds")
    assert seeds_range([0, 1, 2, 3, 4]) == "0–4 (5 random seeds)" and seeds_range([0, 2]) == "0, 2 (2 random seeds)"


def test_a_groups_weight_decays_are_listed_up_to_four_and_summarised_beyond():
    from mnistlib.report.grids import GRIDS
    from mnistlib.words import lambda_values_text, optimizer_text

    assert lambda_values_text([0.0, 0.0]) == "0" and lambda_values_text([1e-2, 0.0]) == "0, 1e-2"
    assert lambda_values_text([0.0, 1e-4, 1e-3, 1e-2]) == "0, 1e-4, 1e-3, 1e-2"  # the original's four
    assert lambda_values_text(GRIDS["default"]["lambdas"]) == "8 values, 1e-6 to 1e-1"
    assert lambda_values_text(GRIDS["full"]["lambdas"]) == "11 values, 1e-6 to 1e-1"
    decayed = RunConfig(weight_decay=1e-3)
    assert "weight decay 0.001" in optimizer_text(decayed) and "weight decay" not in optimizer_text(decayed, decay=False)


def test_an_exact_p_is_never_written_as_zero():
    from mnistlib.words import p_text

    assert p_text(0.0317) == "p = 0.032" and p_text(2 / 3003) == "p = 0.001" and p_text(1 / 3003) == "p < 0.001"
