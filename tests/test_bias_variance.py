"""Domingos's bias and variance over random seeds (mnistlib.analysis.bias_variance), on cases built by hand."""
from __future__ import annotations

import numpy as np
import pytest

from mnistlib.analysis.bias_variance import decompose, per_image, seed_intervals

T, A, B = 7, 3, 5  # the true class and two others


def _one_image(*votes, label=T):
    return np.array(votes).reshape(-1, 1), np.array([label])


def test_a_wrong_consensus_with_one_seed_right():
    parts = per_image(*_one_image(A, A, A, B, T))
    assert parts["main"][0] == A and parts["bias"][0] == 1 and parts["variance"][0] == pytest.approx(0.4)
    assert parts["c"][0] == pytest.approx(-0.5) and parts["error"][0] == pytest.approx(0.8)
    d = decompose(*_one_image(A, A, A, B, T))
    assert d.error == pytest.approx(d.bias + d.net_variance) == pytest.approx(0.8)
    assert d.biased_variance == pytest.approx(0.2) and d.unbiased_variance == 0 and d.main_accuracy == 0


def test_every_seed_away_from_the_consensus_right():
    parts = per_image(*_one_image(T, T, A, A, A))
    assert parts["main"][0] == A and parts["c"][0] == pytest.approx(-1.0) and parts["error"][0] == pytest.approx(0.6)


def test_a_right_consensus():
    d = decompose(*_one_image(T, T, T, A, B))
    assert d.bias == 0 and d.unbiased_variance == pytest.approx(0.4) == d.error and d.main_accuracy == 1


def test_a_tie_goes_to_the_lowest_digit_among_the_tied():
    low_first = per_image(*_one_image(A, A, T, T, B))  # A = 3 < T = 7: the consensus is wrong
    assert low_first["main"][0] == A and low_first["bias"][0] == 1
    true_first = per_image(*_one_image(9, 9, 1, 1, 5, label=1))  # the true 1 < 9: the consensus is right
    assert true_first["main"][0] == 1 and true_first["bias"][0] == 0


def test_the_decomposition_is_exact_on_random_predictions_and_its_intervals_hold_it():
    draw = np.random.default_rng(0)
    labels = draw.integers(0, 10, 500)
    predictions = np.where(draw.random((5, 500)) < 0.7, labels, draw.integers(0, 10, (5, 500)))
    d = decompose(predictions, labels)
    assert d.error == pytest.approx(d.bias + d.unbiased_variance - d.biased_variance)
    assert d.error == pytest.approx(np.mean(predictions != labels)) and (d.seeds, d.images) == (5, 500)
    intervals = seed_intervals(predictions, labels)
    assert all(low <= high for low, high in intervals.values())
    assert intervals["error"][0] <= d.error <= intervals["error"][1]


def test_bad_shapes_say_so():
    with pytest.raises(ValueError, match=r"\(seeds, images\)"):
        decompose(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="at least 2 seeds"):
        decompose(np.zeros((1, 5)), np.zeros(5))


def test_a_configurations_seeds_from_their_stored_predictions(mnist, tmp_path):
    from mnistlib import RunConfig, RunStore, train
    from mnistlib.analysis.bias_variance import seed_predictions, table

    store = RunStore(tmp_path)
    # every test image: a stratified test subset is drawn by the seed, so seeds would see different images
    runs = [train(RunConfig(model="CustomMLP_6", epochs=1, seed=s, train_subset=600, subset_mode="stratified"),
                  store=store, data=mnist, progress=False) for s in range(3)]
    predictions, labels = seed_predictions(runs, mnist)
    assert predictions.shape == (3, 10_000) and labels.shape == (10_000,)
    # each seed's error is its own history's last test accuracy
    assert [100 * (1 - np.mean(p != labels)) for p in predictions] == pytest.approx(
        [run.history.test_acc.iloc[-1] for run in runs], abs=1e-9)
    found = table({"CustomMLP_6": runs}, mnist)
    row = found.loc["CustomMLP_6"]
    assert row.error == pytest.approx(row.bias + row.net_variance) and row.seeds == 3 and row.images == 10_000
    assert row.error_low <= row.error <= row.error_high
    other = train(RunConfig(model="CustomMLP_6", epochs=1, train_subset=600, test_subset=200,
                            subset_mode="stratified"), store=store, data=mnist, progress=False)
    with pytest.raises(ValueError, match="different images"):
        seed_predictions([runs[0], other], mnist)


def test_two_configurations_bias_and_variance_are_compared_by_the_rules_permutation_test_over_seeds():
    from mnistlib.analysis.bias_variance import compare

    draw = np.random.default_rng(5)
    labels = draw.integers(0, 10, 4000)
    seeds = lambda wrong: np.where(draw.random((5, labels.size)) < wrong, (labels + 1) % 10, labels)  # noqa: E731
    steady, shaky = seeds(0.01), seeds(0.05)
    found = compare(shaky, steady, labels)
    assert found.loc["variance", "verdict"] == "different" and found.loc["variance", "diff"] > 0
    assert found.loc["variance", "p"] == pytest.approx(2 / 252)  # every seed of one side above every split
    assert found.loc["error", "diff"] == pytest.approx(decompose(shaky, labels).error - decompose(steady, labels).error)
    alike = compare(seeds(0.02), seeds(0.02), labels)
    assert (alike.verdict != "different").sum() >= 5  # drawn alike: most figures within the spread
    assert set(compare(steady[:2], shaky[:2], labels).verdict) == {"undecided"}  # 2 against 2


def test_the_jackknife_interval_is_the_figure_plus_minus_t_standard_errors_of_the_seeds_left_out():
    from scipy import stats

    from mnistlib.analysis.bias_variance import FIGURES

    draw = np.random.default_rng(6)
    labels = draw.integers(0, 10, 3000)
    predictions = np.where(draw.random((5, labels.size)) < 0.05, draw.integers(0, 10, (5, labels.size)), labels)
    full = decompose(predictions, labels)
    left = [decompose(np.delete(predictions, i, axis=0), labels).variance for i in range(5)]
    error = np.sqrt(4 / 5 * np.sum((np.array(left) - np.mean(left)) ** 2))
    low, high = seed_intervals(predictions, labels)["variance"]
    assert (low + high) / 2 == pytest.approx(full.variance)  # centred on the figure itself
    assert high - low == pytest.approx(2 * stats.t.ppf(0.975, 4) * error)
    assert set(seed_intervals(predictions[:2], labels)) == set(FIGURES)  # two seeds: each alone
