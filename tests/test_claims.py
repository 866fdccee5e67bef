"""The summary's analysis against a reference: the original's own table must give the original's verdicts."""
import pandas as pd

from mnistlib.analysis.claims import beside_original, check_original_claims
from mnistlib.original.record import table
from mnistlib.stats import Health, State


def published_table() -> pd.DataFrame:
    published = table()
    published["health"] = Health(State.OK)
    return published


def test_the_originals_table_supports_its_own_conclusions_but_one():
    claims = check_original_claims(published_table()).set_index("the original says").verdict
    assert len(claims) == 8
    text_claim = "a larger λ lowers the training loss (its text; its own table shows it rising)"
    assert claims[text_claim] == "does not hold"  # the contradiction the spec points out
    assert (claims.drop(text_claim) == "holds").all()


def test_the_evidence_is_the_numbers_compared():
    published = published_table()
    evidence = check_original_claims(published).set_index("the original says").evidence
    first = evidence["LeNet-5 has a lower mean test loss and a higher mean test accuracy than every MLP"]
    assert first["LeNet-5 mean test accuracy (%)"] == published.mean_test_acc["LeNet-5"]
    assert first["best MLP"] == "CustomMLP_5" and first["its mean test accuracy (%)"] == published.mean_test_acc[
        "CustomMLP_5"]
    losses = evidence["a larger λ lowers the training loss (its text; its own table shows it rising)"]
    assert list(losses) == ["λ=0 mean training loss", "λ=1e-4 mean training loss", "λ=1e-3 mean training loss",
                            "λ=1e-2 mean training loss"]


def test_claims_about_runs_outside_the_grid_are_left_out():
    claims = check_original_claims(published_table().loc[["LeNet-5", "CustomMLP_6", "LeNet-5, λ=1e-4"]])
    assert not claims["the original says"].str.contains("1e-2|noise|deeper").any()


def test_beside_original_columns():
    ours = published_table().assign(mean_test_acc=table().mean_test_acc + 0.5)
    joined = beside_original(ours)
    assert (joined.diff_test_acc.round(6) == 0.5).all()
    # computed from the original's histories for every run (the original printed them, cut, for two)
    assert round(joined.original_best_test_acc["LeNet-5"], 2) == 98.82 and joined.original_best_test_acc.notna().all()
    assert round(joined.original_min_test_loss["LeNet-5, noise 0.2"], 3) == 1.473
