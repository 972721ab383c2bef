"""Uplift metrics against small cases computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from modelworks.uplift import (
    average_treatment_effect,
    decile_of,
    incremental_profit_curve,
    perfect_uplift_score,
    profit_metrics,
    profitable_fraction,
    qini_coefficient,
    qini_curve,
    regression_adjusted,
    revenue_uplift_by_decile,
    uplift_at,
    uplift_at_k,
    uplift_by_decile,
    uplift_metrics,
)

# Eight rows ranked by score; treatment alternates, starting treated.
SCORE = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2])
TREATMENT = np.array([1, 0, 1, 0, 1, 0, 1, 0])
OUTCOME = np.array([1, 0, 1, 1, 0, 0, 0, 1])
# Q(k) = Y_t(k) - Y_c(k) * N_t(k) / N_c(k), the control term 0 while N_c(k) = 0:
#   k=1: 1 - 0 = 1          k=2: 1 - 0 * 1/1 = 1    k=3: 2 - 0 * 2/1 = 2    k=4: 2 - 1 * 2/2 = 1
#   k=5: 2 - 1 * 3/2 = 0.5  k=6: 2 - 1 * 3/3 = 1    k=7: 2 - 1 * 4/3 = 2/3  k=8: 2 - 2 * 4/4 = 0
QINI = [0, 1, 1, 2, 1, 0.5, 1, 2 / 3, 0]
# Q(N) = 0, so the random line is flat at 0; trapezoids of width 1/8 between the points:
MODEL_AREA = sum(QINI[1:-1]) / 8
# Perfect ranking: the 2 treated positives (score 1), then the 4 negatives of both arms (0, tied),
# then the 2 control positives (-1): Q = 0, 2, 2, 0 at fractions 0, 2/8, 6/8, 1.
PERFECT_AREA = 0.25 * 2 / 2 + 0.5 * 2 + 0.25 * 2 / 2


def test_qini_curve_matches_the_hand_computed_points():
    curve = qini_curve(OUTCOME, TREATMENT, SCORE)
    assert list(curve.columns) == ["targeted", "fraction", "qini", "random"]
    assert curve["targeted"].tolist() == list(range(9))
    np.testing.assert_allclose(curve["fraction"], np.arange(9) / 8)
    np.testing.assert_allclose(curve["qini"], QINI)
    np.testing.assert_allclose(curve["random"], 0.0)


def test_qini_coefficient_is_the_area_over_the_perfect_area():
    assert qini_coefficient(OUTCOME, TREATMENT, SCORE) == pytest.approx(MODEL_AREA / PERFECT_AREA)
    # Unnormalised: the same area with Q(k) per row of the population.
    assert qini_coefficient(OUTCOME, TREATMENT, SCORE, normalize=False) == pytest.approx(
        MODEL_AREA / 8
    )


def test_perfect_ranking_scores_one_and_its_reverse_is_negative():
    perfect = perfect_uplift_score(OUTCOME, TREATMENT)
    np.testing.assert_array_equal(perfect, [1, 0, 1, -1, 0, 0, 0, -1])
    assert qini_coefficient(OUTCOME, TREATMENT, perfect) == pytest.approx(1.0)
    assert qini_coefficient(OUTCOME, TREATMENT, -perfect) < 0


def test_random_line_ends_where_the_curve_ends():
    outcome = np.array([1, 0, 1, 0, 0, 0])
    treatment = np.array([1, 0, 1, 0, 1, 0])
    curve = qini_curve(outcome, treatment, np.arange(6)[::-1])
    # Q(N) = 2 - 0 = 2: treating everybody gains two outcomes
    assert curve["qini"].iloc[-1] == pytest.approx(2.0)
    np.testing.assert_allclose(curve["random"], curve["fraction"] * 2.0)


def test_tied_scores_enter_together_so_row_order_does_not_matter():
    score = np.array([0.5, 0.5, 0.5, 0.5, 0.1, 0.1])
    treatment = np.array([1, 0, 1, 0, 1, 0])
    outcome = np.array([1, 0, 0, 1, 1, 0])
    curve = qini_curve(outcome, treatment, score)
    assert curve["targeted"].tolist() == [0, 4, 6]  # one point per distinct score
    shuffled = np.array([3, 1, 0, 2, 5, 4])
    assert qini_coefficient(outcome[shuffled], treatment[shuffled], score[shuffled]) == (
        pytest.approx(qini_coefficient(outcome, treatment, score))
    )


def test_uplift_at_k_compares_the_arms_among_the_top_rows():
    # top 50 % = 4 rows: treated {1, 1}, control {0, 1} -> 1 - 0.5
    assert uplift_at_k(OUTCOME, TREATMENT, SCORE, 0.5) == pytest.approx(0.5)
    # top 30 % = ceil(2.4) = 3 rows: treated {1, 1}, control {0}
    assert uplift_at_k(OUTCOME, TREATMENT, SCORE, 0.3) == pytest.approx(1.0)
    assert uplift_at(OUTCOME, TREATMENT, SCORE, (0.3, 0.5)) == {
        "uplift_at_30": pytest.approx(1.0),
        "uplift_at_50": pytest.approx(0.5),
    }
    # top 10 % = 1 row, treated only: no control to compare with
    with pytest.raises(ValueError, match="only treated rows"):
        uplift_at_k(OUTCOME, TREATMENT, SCORE, 0.1)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        uplift_at_k(OUTCOME, TREATMENT, SCORE, 0.0)


def _twenty_rows() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two rows per decile, one per arm. Deciles 1-5: the treated row repays, the control row
    does not; deciles 6-10: the reverse."""
    score = np.arange(20, 0, -1, dtype=float)
    treatment = np.tile([1, 0], 10)
    outcome = np.where(np.arange(20) < 10, treatment, 1 - treatment)
    return outcome, treatment, score


def test_uplift_metrics_bundle_the_scalars():
    outcome, treatment, score = _twenty_rows()
    metrics = uplift_metrics(outcome, treatment, score)
    assert set(metrics) == {
        "qini_coefficient",
        "qini_area",
        "uplift_at_10",
        "uplift_at_30",
        "uplift_at_50",
        "ate",
    }
    # the top 10, 30 and 50 % all sit in deciles 1-5: treated 1, control 0
    assert metrics["uplift_at_10"] == metrics["uplift_at_30"] == metrics["uplift_at_50"] == 1.0
    assert metrics["ate"] == pytest.approx(0.0)  # 5 of 10 repay in either arm
    assert metrics["ate"] == average_treatment_effect(outcome, treatment)
    assert all(type(value) is float for value in metrics.values())


def test_deciles_are_equal_counts_from_the_highest_score():
    np.testing.assert_array_equal(decile_of(np.arange(20)), np.repeat(np.arange(10, 0, -1), 2))
    # ties keep row order, so the counts stay equal
    np.testing.assert_array_equal(decile_of(np.zeros(10)), np.arange(1, 11))


def test_uplift_by_decile_matches_a_hand_built_table():
    outcome, treatment, score = _twenty_rows()
    table = uplift_by_decile(outcome, treatment, score)
    assert list(table.columns) == [
        "decile",
        "rows",
        "n_treated",
        "n_control",
        "outcome_treated",
        "outcome_control",
        "uplift",
        "predicted",
    ]
    assert table["decile"].tolist() == list(range(1, 11))
    assert (table["rows"] == 2).all() and (table["n_treated"] == 1).all()
    np.testing.assert_allclose(table["uplift"], [1.0] * 5 + [-1.0] * 5)
    np.testing.assert_allclose(table["predicted"], score.reshape(10, 2).mean(axis=1))


def test_a_decile_without_one_arm_has_no_uplift_rather_than_zero():
    table = uplift_by_decile(OUTCOME, TREATMENT, SCORE)  # 8 rows: one per decile at most
    assert table["uplift"].isna().all()
    assert table["rows"].sum() == 8


def test_revenue_uplift_by_decile_uses_the_realised_value():
    score = np.arange(20, 0, -1, dtype=float)
    treatment = np.tile([1, 0], 10)
    value = np.where(treatment == 1, 100.0, 40.0)  # every treated row brings 60 more
    table = revenue_uplift_by_decile(value, treatment, score)
    assert {"value_treated", "value_control", "value_uplift", "incremental_value"} <= set(table)
    np.testing.assert_allclose(table["value_uplift"], 60.0)
    np.testing.assert_allclose(table["incremental_value"], 120.0)  # 60 per row, 2 rows


def test_profitable_fraction_counts_scores_above_the_cost():
    assert profitable_fraction([100, 50, 20, 80], 60) == pytest.approx(0.5)
    assert profitable_fraction([100, 50, 20, 80], 50) == pytest.approx(0.5)  # 50 is not above 50
    assert profitable_fraction([10, 20], 100) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        profitable_fraction([1.0, np.nan], 0.5)


def test_incremental_profit_curve_by_hand():
    score = np.array([4.0, 3.0, 2.0, 1.0])
    treatment = np.array([1, 0, 1, 0])
    value = np.array([100.0, 0.0, 50.0, 20.0])
    curve = incremental_profit_curve(value, treatment, score, cost=10.0)
    # k=1: treated only -> unknown; k=2: (100 - 0) * 2; k=3: (75 - 0) * 3; k=4: (75 - 10) * 4
    expected = pd.Series([0.0, np.nan, 200.0, 225.0, 260.0])
    np.testing.assert_allclose(curve["incremental_value"], expected)
    np.testing.assert_allclose(curve["treatment_cost"], [0, 10, 20, 30, 40])
    np.testing.assert_allclose(curve["profit"], expected - [0, 10, 20, 30, 40])
    np.testing.assert_allclose(curve["predicted_value"], [0, 4, 7, 9, 10])


def test_profit_metrics_report_the_profitable_depth_and_the_best_one():
    score = np.array([4.0, 3.0, 2.0, 1.0])
    treatment = np.array([1, 0, 1, 0])
    value = np.array([100.0, 0.0, 50.0, 20.0])
    metrics = profit_metrics(value, treatment, score, cost=2.5)
    # scores 4 and 3 exceed 2.5: treat half; realised (100 - 0) * 2 - 2 * 2.5 = 195
    assert metrics["profitable_fraction"] == pytest.approx(0.5)
    assert metrics["realised_profit"] == pytest.approx(195.0)
    # in hindsight treating all four was best: 65 * 4 - 10
    assert metrics["best_fraction"] == pytest.approx(1.0)
    assert metrics["best_profit"] == pytest.approx(250.0)


@pytest.mark.parametrize(
    ("outcome", "treatment", "score", "message"),
    [
        ([1, 0, 1], [1, 1, 1], [0.1, 0.2, 0.3], "treated and control rows"),
        ([1, 0, 1], [1, 0, 2], [0.1, 0.2, 0.3], "0 \\(control\\) or 1 \\(treated\\)"),
        ([1, 0], [1, 0, 1], [0.1, 0.2, 0.3], "differ in length"),
        ([1, 0, 1], [1, 0, 1], [0.1, np.nan, 0.3], "score has 1 NaN"),
        ([[1, 0]], [1, 0], [0.1, 0.2], "1-D"),
    ],
)
def test_bad_inputs_are_named(outcome, treatment, score, message):
    with pytest.raises(ValueError, match=message):
        qini_curve(outcome, treatment, score)


def test_qini_coefficient_without_any_outcome_says_what_to_do():
    with pytest.raises(ValueError, match="normalize=False"):
        qini_coefficient([0, 0, 0, 0], [1, 0, 1, 0], [4, 3, 2, 1])
    assert qini_coefficient([0, 0, 0, 0], [1, 0, 1, 0], [4, 3, 2, 1], normalize=False) == 0.0


def test_regression_adjustment_removes_the_covariate_by_hand():
    # Within each arm value = 2 * covariate + arm offset, so the pooled slope is exactly 2 and
    # the adjusted value keeps only each arm's offset around the overall covariate mean.
    covariate = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 3.0])
    treatment = np.array([1, 1, 1, 0, 0, 0])
    value = 2 * covariate + np.where(treatment == 1, 5.0, 1.0)
    adjusted = regression_adjusted(value, treatment, covariate)
    np.testing.assert_allclose(adjusted, np.where(treatment == 1, 9.0, 5.0))


def test_regression_adjustment_keeps_the_difference_and_shrinks_its_noise():
    rng = np.random.default_rng(0)
    n = 4_000
    owed = rng.lognormal(7.0, 1.0, n)  # heavy-tailed balances
    treatment = rng.integers(0, 2, n)
    repaid = rng.random(n) < np.where(treatment == 1, 0.45, 0.35)
    value = owed * repaid
    adjusted = regression_adjusted(value, treatment, owed)
    raw_gap = value[treatment == 1].mean() - value[treatment == 0].mean()
    gap = adjusted[treatment == 1].mean() - adjusted[treatment == 0].mean()
    owed_gap = owed[treatment == 1].mean() - owed[treatment == 0].mean()
    slope = (value - adjusted)[0] / (owed[0] - owed.mean())
    # the adjusted gap is the raw gap less the slope times the chance imbalance of balances
    assert gap == pytest.approx(raw_gap - slope * owed_gap)
    assert adjusted.var() < 0.9 * value.var()
    # without a covariate that varies there is nothing to adjust
    np.testing.assert_allclose(regression_adjusted(value, treatment, np.ones(n)), value)
