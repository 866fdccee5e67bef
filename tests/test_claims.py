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
    return check_original_claims(seeds).set_index("the original says").verdict


def test_the_originals_own_numbers_as_five_tight_seeds_give_its_verdicts_by_the_rule():
    found = verdicts(seeds_around(table()))
    assert len(found) == 9
    assert found["a larger λ lowers the training loss"] == FAILS  # its own table shows the loss rising with λ
    assert found["weight decay does not improve LeNet-5's test accuracy"] == FAILS  # λ=1e-4 98.69 > 98.59 there
    assert found["λ = 1e-2 makes LeNet-5 fail: accuracy stays near chance (11%)"] == HOLDS
    assert found["CustomMLP_5 and CustomMLP_6 are the two best MLPs"] == HOLDS
    assert found["noise injection gives the best LeNet-5, with std 0.2"] == HOLDS


def test_a_difference_inside_the_spread_between_seeds_is_no_verdict_either_way():
    values = table()
    values.loc["CustomMLP_6", "mean_test_acc"] = values.mean_test_acc["CustomMLP_5"] - 0.005  # well inside the spread
    rivals = [label for label in values.index if label.startswith("LeNet-5") and label != "LeNet-5, noise 0.2"]
    values.loc["LeNet-5, noise 0.2", "mean_test_acc"] = values.mean_test_acc[rivals].max() + 0.005
    found = verdicts(seeds_around(values))
    assert found["CustomMLP_5 is slightly ahead of CustomMLP_6"] == WITHIN
    assert found["noise injection gives the best LeNet-5, with std 0.2"] == WITHIN
    wide = verdicts(seeds_around(table(), OFFSETS * 100))  # the same means, seeds spread by ±2 points
    assert wide["CustomMLP_5 is slightly ahead of CustomMLP_6"] == WITHIN
    assert wide["weight decay does not improve LeNet-5's test accuracy"] == HOLDS  # no λ above λ=0 by the rule


def test_two_seeds_cannot_confirm_a_ranking():
    found = verdicts(seeds_around(table(), OFFSETS[[0, -1]]))
    assert found["CustomMLP_5 and CustomMLP_6 are the two best MLPs"] == WITHIN  # 2 against 2: p ≥ 1/3
    assert found["weight decay does not improve LeNet-5's test accuracy"] == WITHIN  # undecidable, so not 'holds'


def test_a_run_at_chance_in_some_seeds_is_said_so():
    seeds = seeds_around(table())
    strongest = seeds.model == "LeNet-5, λ=1e-2"
    seeds.loc[strongest & (seeds.seed < 2), "mean_test_acc"] = 97.0
    assert verdicts(seeds)["λ = 1e-2 makes LeNet-5 fail: accuracy stays near chance (11%)"] == SOME_SEEDS
    seeds.loc[strongest, "mean_test_acc"] = 97.0
    assert verdicts(seeds)["λ = 1e-2 makes LeNet-5 fail: accuracy stays near chance (11%)"] == FAILS


def test_the_evidence_is_the_numbers_compared_and_the_counts_add_up():
    claims = check_original_claims(seeds_around(table())).set_index("the original says")
    first = claims.evidence["LeNet-5 has a lower mean test loss and a higher mean test accuracy than every MLP"]
    assert first["LeNet-5 mean test accuracy (%)"] == f"{table().mean_test_acc['LeNet-5']:.4g} ± 0.016"
    assert first["LeNet-5 − CustomMLP_5, accuracy (points)"].endswith("(p = 0.008)")
    losses = claims.evidence["a larger λ lowers the training loss"]
    assert list(losses) == ["λ=0 mean training loss", "λ=1e-4 mean training loss", "λ=1e-3 mean training loss",
                            "λ=1e-2 mean training loss"]
    assert claims.comparisons["LeNet-5 has a lower mean test loss and a higher mean test accuracy than every MLP"] == 12
    counts = claim_counts(claims.reset_index())
    assert sum(counts.values()) == len(claims) and list(counts) == [HOLDS, FAILS, WITHIN, SOME_SEEDS]


def test_claims_about_runs_outside_the_grid_are_left_out():
    claims = check_original_claims(seeds_around(table().loc[["LeNet-5", "CustomMLP_6", "LeNet-5, λ=1e-4"]]))
    assert not claims["the original says"].str.contains("1e-2|noise|deeper").any()


def test_beside_original_sets_the_original_beside_our_mean_over_seeds():
    ours = table().assign(mean_test_acc=table().mean_test_acc + 0.5, seeds=5, mean_test_acc_std=0.1)
    joined = beside_original(ours)
    assert (joined.diff_test_acc.round(6) == 0.5).all()
    # computed from the original's histories for every run (the original printed them, cut, for two)
    assert round(joined.original_best_test_acc["LeNet-5"], 2) == 98.82 and joined.original_best_test_acc.notna().all()
    assert round(joined.original_min_test_loss["LeNet-5, noise 0.2"], 3) == 1.473
    assert joined.mean_test_acc_std["LeNet-5"] == pytest.approx(0.1)
