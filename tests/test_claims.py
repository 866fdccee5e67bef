"""The original's conclusions checked over random seeds: each verdict follows from the rule for "different" alone."""
import numpy as np
import pandas as pd
import pytest

from mnistlib.analysis.claims import FAILS, HOLDS, SOME_SEEDS, WITHIN, beside_original, check_original_claims, claim_counts
from mnistlib.original.record import table

COLUMNS = ["mean_test_acc", "mean_test_loss", "mean_train_acc", "mean_train_loss"]
OFFSETS = np.array([-0.02, -0.01, 0.0, 0.01, 0.02])  # five seeds around each value: a spread of 0.016 (std)


def seeds_around(values: pd.DataFrame, offsets=OFFSETS) -> pd.DataFrame:
    """One row per (run, seed): each statistic of ``values`` (one row per run) plus a seed's offset."""
    return pd.DataFrame([{"model": label, "seed": s, **{c: row[c] + d for c in COLUMNS}}
                         for label, row in values.iterrows() for s, d in enumerate(offsets)])


def verdicts(seeds: pd.DataFrame) -> pd.Series:
    return check_original_claims(seeds).set_index("claim").verdict


def test_the_originals_own_numbers_as_five_tight_seeds_give_its_verdicts_by_the_rule():
    found = verdicts(seeds_around(table()))
    assert len(found) == 10
    assert found["decay_lowers_train_loss"] == FAILS  # its own table shows the loss rising with λ
    assert found["decay_no_gain"] == FAILS  # λ=1e-4 98.69 > 98.59 there
    assert found["strongest_decay_fails"] == HOLDS
    assert found["mlp5_mlp6_best"] == HOLDS and found["mlp5_ahead"] == HOLDS  # 97.39 against 97.36, seeds 0.016 apart
    assert found["mlp6_closest"] == FAILS  # CustomMLP_5 is above it
    assert found["noise_best"] == HOLDS


def test_a_difference_inside_the_spread_between_seeds_is_no_verdict_either_way():
    values = table()
    values.loc["CustomMLP_6", "mean_test_acc"] = values.mean_test_acc["CustomMLP_5"] - 0.005  # well inside the spread
    rivals = [label for label in values.index if label.startswith("LeNet-5") and label != "LeNet-5, noise 0.2"]
    values.loc["LeNet-5, noise 0.2", "mean_test_acc"] = values.mean_test_acc[rivals].max() + 0.005
    found = verdicts(seeds_around(values))
    assert found["mlp5_ahead"] == WITHIN and found["mlp6_closest"] == WITHIN
    assert found["noise_best"] == WITHIN
    wide = verdicts(seeds_around(table(), OFFSETS * 100))  # the same means, seeds spread by ±2 points
    assert wide["mlp5_ahead"] == WITHIN
    assert wide["decay_no_gain"] == HOLDS  # no λ above λ=0 by the rule


def test_two_seeds_cannot_confirm_a_ranking():
    found = verdicts(seeds_around(table(), OFFSETS[[0, -1]]))
    assert found["mlp5_mlp6_best"] == WITHIN  # 2 against 2: p ≥ 1/3
    assert found["decay_no_gain"] == WITHIN  # undecidable, so not 'holds'


def test_a_run_at_chance_in_some_seeds_is_said_so():
    seeds = seeds_around(table())
    strongest = seeds.model == "LeNet-5, λ=1e-2"
    seeds.loc[strongest & (seeds.seed < 2), "mean_test_acc"] = 97.0
    assert verdicts(seeds)["strongest_decay_fails"] == SOME_SEEDS
    seeds.loc[strongest, "mean_test_acc"] = 97.0
    assert verdicts(seeds)["strongest_decay_fails"] == FAILS


def test_the_evidence_is_the_numbers_compared_and_the_counts_add_up():
    claims = check_original_claims(seeds_around(table())).set_index("claim")
    first = claims.evidence["lenet_beats_mlps"]
    assert first["LeNet-5 mean test accuracy (%)"] == f"{table().mean_test_acc['LeNet-5']:.4g} ± 0.016"
    assert first["LeNet-5 − CustomMLP_5, accuracy (points)"].endswith("(p = 0.008)")
    losses = claims.evidence["decay_lowers_train_loss"]
    assert list(losses) == ["λ=0 mean training loss", "λ=1e-4 mean training loss", "λ=1e-3 mean training loss",
                            "λ=1e-2 mean training loss"]
    assert claims.comparisons["lenet_beats_mlps"] == 12
    assert claims["its words"]["decay_lowers_train_loss"].startswith("람다의 값이 커질수록 Training loss가 감소하여")
    assert "감소" in claims["the original says"]["decay_lowers_train_loss"]  # how the sentence was read, said
    counts = claim_counts(claims.reset_index())
    assert sum(counts.values()) == len(claims) and list(counts) == [HOLDS, FAILS, WITHIN, SOME_SEEDS]


def test_claims_about_runs_outside_the_grid_are_left_out():
    claims = check_original_claims(seeds_around(table().loc[["LeNet-5", "CustomMLP_6", "LeNet-5, λ=1e-4"]]))
    assert set(claims.claim) == {"lenet_beats_mlps", "decay_no_gain", "decay_lowers_train_loss", "decay_narrows_gap"}


def test_beside_original_sets_the_original_beside_our_mean_over_seeds():
    ours = table().assign(mean_test_acc=table().mean_test_acc + 0.5, seeds=5, mean_test_acc_std=0.1)
    joined = beside_original(ours)
    assert (joined.diff_test_acc.round(6) == 0.5).all()
    # computed from the original's histories for every run (the original printed them, cut, for two)
    assert round(joined.original_best_test_acc["LeNet-5"], 2) == 98.82 and joined.original_best_test_acc.notna().all()
    assert round(joined.original_min_test_loss["LeNet-5, noise 0.2"], 3) == 1.473
    assert joined.mean_test_acc_std["LeNet-5"] == pytest.approx(0.1)
