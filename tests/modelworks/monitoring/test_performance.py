"""Calibration, label-free performance estimation and realised performance.

Labels are simulated from known probabilities, so the calibration map has a truth to recover
and the estimate a realised value to land on.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from modelworks.monitoring import (
    DriftParams,
    build_reference_profile,
    calibrate,
    estimate_performance,
    expected_roc_auc,
    fit_calibration,
    monitor_batch,
    realised_performance,
)

# The estimate lands within this of the realised ROC-AUC / accuracy / positive rate on a batch
# of BATCH rows (about three of its standard errors).
TOLERANCE = 0.02
BATCH = 10_000


def true_probability(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(-1.0 + 1.5 * x)))


def model_score(x: np.ndarray) -> np.ndarray:
    """Ranks rows exactly as the truth does, but is miscalibrated: too flat and too low."""
    return 1 / (1 + np.exp(-(-1.5 + 0.8 * x)))


def simulate(n: int, seed: int, *, mean: float = 0.0, sd: float = 1.0):
    """One feature, the model's scores, the true probabilities and labels drawn from them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(mean, sd, n)
    p = true_probability(x)
    return pd.DataFrame({"x": x}), model_score(x), p, rng.random(n) < p


@pytest.fixture(scope="module")
def profile() -> dict:
    frame, scores, _, labels = simulate(40_000, seed=1)
    return build_reference_profile(
        frame, numeric=["x"], categorical=[], scores=scores, labels=labels
    )


# -- calibration -----------------------------------------------------------------------------


def test_calibration_recovers_the_true_probabilities(profile: dict) -> None:
    calibration = profile["scores"]["calibration"]
    x = np.linspace(-2.0, 2.0, 41)
    probabilities = calibrate(calibration, model_score(x))

    assert np.all(np.diff(probabilities) >= 0)
    assert np.max(np.abs(probabilities - true_probability(x))) < 0.05
    # The raw scores are far off: the map is doing the work.
    assert np.max(np.abs(model_score(x) - true_probability(x))) > 0.2
    # A compact map: the ends of the isotonic steps, not a point per reference row.
    assert len(calibration["scores"]) < 1_000
    assert calibration["n"] == 40_000


def test_calibration_clamps_outside_the_reference_range() -> None:
    calibration = fit_calibration([0.2, 0.4, 0.6, 0.8], [0, 0, 1, 1])
    assert calibrate(calibration, [0.0, 0.3, 1.0]).tolist() == [0.0, 0.0, 1.0]


def test_tied_scores_get_one_probability() -> None:
    calibration = fit_calibration([0.5, 0.5, 0.5, 0.5, 0.9], [0, 1, 1, 1, 1])
    assert calibrate(calibration, [0.5]).tolist() == [0.75]


# -- expected ROC-AUC ------------------------------------------------------------------------


def test_expected_roc_auc_matches_the_pairwise_definition() -> None:
    rng = np.random.default_rng(2)
    scores = np.round(rng.random(80), 1)  # plenty of ties
    p = rng.random(80)
    greater = (scores[:, None] > scores[None, :]) + 0.5 * (scores[:, None] == scores[None, :])
    weight = p[:, None] * (1 - p[None, :])
    np.fill_diagonal(weight, 0.0)
    expected = float(np.sum(weight * greater) / np.sum(weight))

    auc, se = expected_roc_auc(scores, p)
    assert auc == pytest.approx(expected)
    assert se is not None and 0 < se < 0.2


def test_roc_auc_standard_error_matches_the_spread_of_realised_auc() -> None:
    # Fixed scores and probabilities; labels redrawn 400 times: the spread of the realised
    # AUC is what the standard error claims to be.
    rng = np.random.default_rng(3)
    x = rng.normal(size=2_000)
    p, scores = true_probability(x), model_score(x)
    auc, se = expected_roc_auc(scores, p)
    draws = rng.random((400, len(p))) < p
    realised = np.array([metrics.roc_auc_score(y, scores) for y in draws])

    assert realised.mean() == pytest.approx(auc, abs=0.003)
    assert se == pytest.approx(realised.std(), rel=0.15)


def test_degenerate_probabilities_have_no_auc() -> None:
    assert expected_roc_auc(np.array([0.1, 0.2]), np.array([0.0, 0.0])) == (None, None)
    assert expected_roc_auc(np.array([0.1]), np.array([0.5])) == (None, None)


# -- the estimate against realised performance ---------------------------------------------


@pytest.mark.parametrize(("mean", "sd"), [(0.0, 1.0), (0.8, 0.6), (-0.5, 1.3)])
def test_estimate_lands_on_realised_performance(profile: dict, mean: float, sd: float) -> None:
    # A covariate shift (the feature's distribution moves, P(label | feature) does not) changes
    # the AUC; the estimate follows it without seeing a label.
    _, scores, _, labels = simulate(BATCH, seed=4, mean=mean, sd=sd)
    estimate = estimate_performance(profile, scores)
    realised = realised_performance(scores, labels)

    for key in ("roc_auc", "accuracy", "positive_rate"):
        assert estimate[key] == pytest.approx(realised[key], abs=TOLERANCE), key
    assert abs(estimate["roc_auc"] - realised["roc_auc"]) < 3 * estimate["roc_auc_se"]
    assert estimate["predicted_positive_rate"] == realised["predicted_positive_rate"]
    assert estimate["n"] == BATCH
    assert estimate["n_missing"] == 0


def test_estimate_follows_a_drop_in_auc(profile: dict) -> None:
    reference_auc = profile["scores"]["performance"]["roc_auc"]
    _, scores, _, labels = simulate(BATCH, seed=5, mean=0.5, sd=0.4)
    estimate = estimate_performance(profile, scores)

    assert reference_auc - estimate["roc_auc"] > 0.1
    assert estimate["roc_auc"] == pytest.approx(
        realised_performance(scores, labels)["roc_auc"], abs=TOLERANCE
    )


def test_non_finite_scores_are_left_out_and_counted(profile: dict) -> None:
    _, scores, _, _ = simulate(1_000, seed=6)
    scores[:10] = np.nan
    estimate = estimate_performance(profile, scores)
    assert estimate["n"] == 990
    assert estimate["n_missing"] == 10


# -- realised performance --------------------------------------------------------------------


def test_realised_performance_matches_sklearn() -> None:
    _, scores, _, labels = simulate(5_000, seed=7)
    scores = np.round(scores, 2)  # ties
    result = realised_performance(scores, labels, threshold=0.3)
    predicted = scores >= 0.3

    assert result["roc_auc"] == pytest.approx(metrics.roc_auc_score(labels, scores))
    assert result["accuracy"] == pytest.approx(metrics.accuracy_score(labels, predicted))
    assert result["precision"] == pytest.approx(metrics.precision_score(labels, predicted))
    assert result["recall"] == pytest.approx(metrics.recall_score(labels, predicted))
    assert result["positive_rate"] == pytest.approx(labels.mean())
    assert result["predicted_positive_rate"] == pytest.approx(predicted.mean())
    assert json.loads(json.dumps(result)) == result


def test_realised_performance_with_one_class_has_no_auc() -> None:
    result = realised_performance([0.2, 0.7], [1, 1])
    assert result["roc_auc"] is None
    assert result["recall"] == 0.5


def test_bad_labels_and_scores_are_named() -> None:
    with pytest.raises(ValueError, match=r"0/1 or booleans; 2 are not: \['2', 'yes'\]"):
        realised_performance([0.1, 0.2, 0.3, 0.4], np.array([0, 2, "yes", 1], dtype=object))
    with pytest.raises(ValueError, match="3 scores but 2 labels"):
        realised_performance([0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ValueError, match=r"1 of 2 scores are NaN or infinite.*\[1\]"):
        realised_performance([0.1, np.nan], [0, 1])
    with pytest.raises(ValueError, match="both labels"):
        fit_calibration([0.1, 0.2], [1, 1])


def test_estimate_needs_a_calibrated_profile() -> None:
    frame, scores, _, _ = simulate(500, seed=8)
    without_scores = build_reference_profile(frame, numeric=["x"], categorical=[])
    without_labels = build_reference_profile(frame, numeric=["x"], categorical=[], scores=scores)
    with pytest.raises(ValueError, match="no scores"):
        estimate_performance(without_scores, scores)
    with pytest.raises(ValueError, match="no calibration"):
        estimate_performance(without_labels, scores)
    with pytest.raises(ValueError, match="Labels were given without scores"):
        build_reference_profile(frame, numeric=["x"], categorical=[], labels=[0] * 500)


# -- one monitoring run ----------------------------------------------------------------------


def test_monitor_batch_gathers_every_section(profile: dict) -> None:
    frame, scores, _, labels = simulate(5_000, seed=9, mean=0.8)
    summary = monitor_batch(
        profile, frame, DriftParams(), scores=scores, labels=labels, run="2024-06-03"
    )

    assert summary["run"] == "2024-06-03"
    assert summary["features"][0]["verdict"] == "critical"
    assert summary["prediction_drift"]["verdict"] == "critical"
    assert summary["verdict"] == "critical"
    assert summary["reference_performance"] == profile["scores"]["performance"]
    assert summary["estimated_performance"]["roc_auc"] == pytest.approx(
        summary["realised_performance"]["roc_auc"], abs=TOLERANCE
    )
    assert json.loads(json.dumps(summary, allow_nan=False)) == summary

    quiet = monitor_batch(profile, frame.iloc[:0].reindex(range(10)).fillna(0.0), DriftParams())
    assert quiet["prediction_drift"] is None
    assert quiet["estimated_performance"] is None
    assert quiet["realised_performance"] is None


def test_monitor_batch_refuses_scores_a_profile_cannot_judge() -> None:
    frame, scores, _, labels = simulate(500, seed=10)
    without_scores = build_reference_profile(frame, numeric=["x"], categorical=[])
    with pytest.raises(ValueError, match="no scores"):
        monitor_batch(without_scores, frame, DriftParams(), scores=scores)
    with pytest.raises(ValueError, match="Labels were given without scores"):
        monitor_batch(without_scores, frame, DriftParams(), labels=labels)
