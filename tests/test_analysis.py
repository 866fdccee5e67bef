"""The summary's analysis against a reference: the seed's own table must give the seed's verdicts."""
import pandas as pd

from mnistlib.seed import beside_seed, check_seed_claims, table
from mnistlib.stats import Health, State


def seed_table() -> pd.DataFrame:
    published = table()
    published["health"] = Health(State.OK)
    return published


def test_seed_table_supports_its_own_conclusions_but_one():
    claims = check_seed_claims(seed_table()).set_index("the seed says").verdict
    assert len(claims) == 8
    text_claim = "a larger λ lowers the training loss (its text; its own table shows it rising)"
    assert claims[text_claim] == "does not hold"  # the contradiction the spec points out
    assert (claims.drop(text_claim) == "holds").all()


def test_the_evidence_is_the_numbers_compared():
    published = seed_table()
    evidence = check_seed_claims(published).set_index("the seed says").evidence
    first = evidence["LeNet-5 has a lower mean test loss and a higher mean test accuracy than every MLP"]
    assert first["LeNet-5 mean test accuracy (%)"] == published.mean_test_acc["LeNet-5"]
    assert first["best MLP"] == "CustomMLP_5" and first["its mean test accuracy (%)"] == published.mean_test_acc[
        "CustomMLP_5"]
    losses = evidence["a larger λ lowers the training loss (its text; its own table shows it rising)"]
    assert list(losses) == ["λ=0 mean training loss", "λ=1e-4 mean training loss", "λ=1e-3 mean training loss",
                            "λ=1e-2 mean training loss"]


def test_claims_about_runs_outside_the_grid_are_left_out():
    claims = check_seed_claims(seed_table().loc[["LeNet-5", "CustomMLP_6", "LeNet-5, λ=1e-4"]])
    assert not claims["the seed says"].str.contains("1e-2|noise|deeper").any()


def test_beside_seed_columns():
    ours = seed_table().assign(mean_test_acc=table().mean_test_acc + 0.5)
    joined = beside_seed(ours)
    assert (joined.diff_test_acc.round(6) == 0.5).all()
    # computed from the seed's histories for every run (the seed printed them, cut, for two)
    assert round(joined.seed_best_test_acc["LeNet-5"], 2) == 98.82 and joined.seed_best_test_acc.notna().all()
    assert round(joined.seed_min_test_loss["LeNet-5, noise 0.2"], 3) == 1.473
