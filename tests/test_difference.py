"""The one rule for "different" (mnistlib.difference): its error rates, its interval, its verdicts, and the
reproduction's prediction interval with its rate."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from mnistlib.difference import (ALPHA, DIFFERENT, UNDECIDED, WITHIN, chance_verdicts, compare, gap_in_stds,
                                 leave_one_seed_out, prediction_interval, welch_interval)

DRAWS = 2000


def _upper(rate: float, draws: int = DRAWS) -> int:
    """The most hits a process of this rate gives in ``draws`` but one time in a thousand."""
    return int(scipy_stats.binom.ppf(0.999, draws, rate))


def test_five_seeds_against_five_from_one_distribution_are_called_different_at_most_at_its_level():
    draw = np.random.default_rng(0)
    called = sum(compare(draw.normal(98.8, 0.07, 5), draw.normal(98.8, 0.07, 5)).different for _ in range(DRAWS))
    # the exact test of 5 against 5 calls 12 of its 252 splits different: 4.8%, under the 5% it promises
    assert called <= _upper(ALPHA), called
    assert called >= int(scipy_stats.binom.ppf(0.001, DRAWS, 12 / 252)), called  # and is not blind either


def test_a_shift_of_two_standard_deviations_is_called_different_in_most_draws():
    draw = np.random.default_rng(1)
    called = sum(compare(draw.normal(2, 1, 5), draw.normal(0, 1, 5)).different for _ in range(DRAWS))
    assert 0.7 < called / DRAWS < 0.9, called / DRAWS  # measured: 0.77 (0.0495 with no shift: the test above)


def test_welchs_interval_holds_the_true_difference_at_its_level():
    draw = np.random.default_rng(2)
    held = 0
    for _ in range(DRAWS):
        low, high = welch_interval(draw.normal(1.0, 1, 5), draw.normal(0.0, 3, 5))
        held += low <= 1.0 <= high
    assert DRAWS - held <= _upper(0.05) and held / DRAWS < 0.975, held / DRAWS  # Welch's is near, not exact


def test_the_verdicts():
    apart = compare([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
    assert apart.verdict == DIFFERENT and apart.p == pytest.approx(2 / 252) and apart.diff == -5
    assert apart.low < -5 < apart.high < 0
    mixed = compare([1, 3, 5, 7, 9], [2, 4, 6, 8, 10])
    assert mixed.verdict == WITHIN and mixed.decidable and not mixed.different
    two = compare([1, 2], [8, 9])  # 2 against 2 cannot reach 0.05 (p ≥ 1/3), however far apart
    assert two.verdict == UNDECIDED and two.p == pytest.approx(1 / 3)
    one = compare([1.0], [2.0, 3.0, 4.0])
    assert math.isnan(one.low) and one.verdict == UNDECIDED
    assert compare([1, 1, 1], [1, 1, 1]).low == 0.0 and chance_verdicts(20) == 1.0
    with pytest.raises(ValueError, match="at least one seed"):
        compare([], [1.0])


def test_the_prediction_interval_holds_a_new_seed_at_its_level():
    draw = np.random.default_rng(3)
    held = 0
    for _ in range(DRAWS):
        seeds, new = draw.normal(98.8, 0.07, 5), draw.normal(98.8, 0.07)
        low, high = prediction_interval(seeds)
        held += low <= new <= high
    assert DRAWS - held <= _upper(0.05), held / DRAWS
    assert held / DRAWS < 0.975, "an interval far wider than it says"


def test_leave_one_seed_out_and_the_gap():
    values = [98.80, 98.85, 98.90, 98.95, 99.00]
    assert leave_one_seed_out(values) == 1.0
    assert leave_one_seed_out([1.0, 1.0, 1.0, 1.0, 5.0]) == 0.8  # the outlier is outside the others' interval
    low, high = prediction_interval(values)
    assert low < 98.8 and high > 99.0 and (low + high) / 2 == pytest.approx(98.9)
    assert gap_in_stds(98.9 + 2 * np.std(values, ddof=1), values) == pytest.approx(2.0) and math.isnan(gap_in_stds(1.0, [2.0]))
    with pytest.raises(ValueError, match="at least 3 seeds"):
        leave_one_seed_out([1.0, 2.0])


def test_a_configuration_is_best_only_where_the_rule_sets_it_apart_from_every_other():
    from mnistlib.difference import leader

    apart = leader({"a": [1, 2, 3, 4, 5], "b": [6, 7, 8, 9, 10], "c": [11, 12, 13, 14, 15]})
    assert (apart.top, apart.tied, apart.decided, apart.comparisons) == ("c", ("c",), True, 2)
    close = leader({"a": [1, 2, 3, 4, 5], "b": [6, 7, 8, 9, 10], "c": [6.5, 7.5, 8.5, 9.5, 10.5]})
    assert close.top == "c" and close.tied == ("c", "b") and not close.decided and not close.undecided
    few = leader({"a": [1, 2], "b": [8, 9]})  # 2 against 2 cannot reach p < 0.05: no best, and it says why
    assert few.tied == ("b", "a") and few.undecided
    assert leader({"a": [1, 2, 3, 4, 5], "b": [6, 7, 8, 9, 10]}, highest=False).tied == ("a",)


def test_a_table_of_comparisons_against_a_reference_and_between_pairs():
    from mnistlib.difference import against, pairs

    values = {"plain": [98.80, 98.85, 98.90, 98.95, 99.00], "better": [99.3, 99.35, 99.4, 99.45, 99.5],
              "same": [98.82, 98.86, 98.9, 98.93, 98.99]}
    table = against(values, "plain")
    assert list(table.index) == ["better", "same"] and table.verdict.to_dict() == {"better": DIFFERENT, "same": WITHIN}
    assert table.loc["better", "diff"] == pytest.approx(0.5) and table.loc["better", "p"] == pytest.approx(2 / 252)
    assert table.loc["better", "std"] == pytest.approx(np.std(values["better"], ddof=1))
    assert table.loc["better", "low"] < 0.5 < table.loc["better", "high"] and table.loc["same", "low"] < 0
    both = pairs(values, [("better", "same"), ("same", "plain")])
    assert list(both.index) == [("better", "same"), ("same", "plain")] and both.index.names == ["a", "b"]
    assert both.loc[("same", "plain"), "p"] == table.loc["same", "p"]
    with pytest.raises(KeyError, match="'none' is not among"):
        against(values, "none")


def test_the_permutation_test_of_a_statistic_of_a_set_of_seeds_is_the_rules_on_their_means():
    from mnistlib.difference import permutation_p
    from mnistlib.stats import permutation_test

    draw = np.random.default_rng(4)
    a, b = draw.normal(0, 1, 5), draw.normal(1, 1, 4)
    assert permutation_p(list(a), list(b), lambda seeds: float(np.mean(seeds))) == pytest.approx(permutation_test(a, b))
    assert permutation_p([1, 2, 3], [1, 2, 3], lambda seeds: float(np.median(seeds))) == 1.0
