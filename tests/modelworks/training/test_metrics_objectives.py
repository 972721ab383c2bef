"""Multiclass and regression metrics, their bootstrap forms, and the metric directions."""

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)

from modelworks.training import (
    METRIC_DIRECTIONS,
    binary_classification_metrics,
    multiclass_metrics,
    regression_metrics,
    regression_subset_metric,
    subset_metric,
)


def _multiclass(n: int = 300, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, proba


def _regression(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n) * 3
    return y, y + rng.normal(size=n)


def _sklearn_multiclass(y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    k = proba.shape[1]
    predicted = proba.argmax(axis=1)
    return {
        "log_loss": log_loss(y, proba, labels=list(range(k))),
        "macro_f1": f1_score(y, predicted, average="macro"),
        "accuracy": accuracy_score(y, predicted),
        "brier": float(np.mean(np.sum((np.eye(k)[y] - proba) ** 2, axis=1))),
    }


def _sklearn_regression(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "rmse": float(np.sqrt(mean_squared_error(y, pred))),
        "mae": mean_absolute_error(y, pred),
        "r2": r2_score(y, pred),
    }


def test_multiclass_metrics_agree_with_sklearn():
    y, proba = _multiclass()
    metrics = multiclass_metrics(y, proba)
    assert metrics == pytest.approx(_sklearn_multiclass(y, proba), abs=1e-12)
    assert set(metrics) == {"log_loss", "macro_f1", "accuracy", "brier"}
    assert all(type(value) is float for value in metrics.values())


def test_multiclass_hand_computed_case():
    y = [0, 1, 2]
    proba = [[0.8, 0.1, 0.1], [0.3, 0.6, 0.1], [0.5, 0.2, 0.3]]
    metrics = multiclass_metrics(y, proba)
    assert metrics["accuracy"] == pytest.approx(2 / 3)
    assert metrics["log_loss"] == pytest.approx(-(np.log(0.8) + np.log(0.6) + np.log(0.3)) / 3)
    # (0.04 + 0.01 + 0.01) + (0.09 + 0.16 + 0.01) + (0.25 + 0.04 + 0.49)
    assert metrics["brier"] == pytest.approx((0.06 + 0.26 + 0.78) / 3)
    # class 0: tp 1, fp 1, fn 0 -> 2/3; class 1: 1.0; class 2: 0
    assert metrics["macro_f1"] == pytest.approx((2 / 3 + 1 + 0) / 3)


def test_multiclass_log_loss_counts_a_class_no_row_has():
    y, proba = _multiclass(k=3)
    keep = y != 2
    metrics = multiclass_metrics(y[keep], proba[keep])
    assert metrics["log_loss"] == pytest.approx(
        log_loss(y[keep], proba[keep], labels=[0, 1, 2]), abs=1e-12
    )


def test_regression_metrics_agree_with_sklearn():
    y, pred = _regression()
    metrics = regression_metrics(y, pred)
    assert metrics == pytest.approx(_sklearn_regression(y, pred), abs=1e-12)
    assert list(metrics) == ["rmse", "mae", "r2"]
    assert regression_metrics([1.0, 1.0], [1.0, 1.0])["r2"] == 1.0  # sklearn's constant target
    assert regression_metrics([1.0, 1.0], [1.0, 2.0])["r2"] == 0.0


@pytest.mark.parametrize(
    ("y", "proba", "message"),
    [
        ([0, 1], [0.2, 0.8], r"proba must be 2-D"),
        ([[0, 1]], [[0.2, 0.8]], "y_codes must be 1-D"),
        ([0, 1, 1], [[0.2, 0.8], [0.5, 0.5]], "3 values but proba has 2 rows"),
        ([], np.empty((0, 3)), "empty"),
        ([0, 3], [[0.2, 0.8, 0.0], [0.5, 0.5, 0.0]], r"codes 0\.\.2.*found \['3'\]"),
        ([0, -1], [[0.2, 0.8], [0.5, 0.5]], r"codes 0\.\.1.*found \['-1'\]"),
        (["a", "b"], [[0.2, 0.8], [0.5, 0.5]], r"codes 0\.\.1.*found \['a', 'b'\]"),
        ([0, 1], [[0.2, 0.7], [0.5, 0.5]], r"rows must sum to 1.*1 rows do not, e\.g\. row 0"),
        ([0, 1], [[0.2, 0.8], [np.nan, 0.5]], "1 NaN or infinite"),
        ([0, 1], [[-0.2, 1.2], [0.5, 0.5]], r"probabilities in \[0, 1\]"),
    ],
)
def test_bad_multiclass_input_is_rejected_with_the_reason(y, proba, message):
    with pytest.raises(ValueError, match=message):
        multiclass_metrics(y, proba)


def test_rows_within_the_tolerance_of_one_are_accepted():
    proba = np.array([[0.2, 0.8 + 5e-7], [0.5, 0.5]])
    assert multiclass_metrics([1, 0], proba)["accuracy"] == 1.0


@pytest.mark.parametrize(
    ("y", "pred", "message"),
    [
        ([1.0, 2.0], [1.0], "2 values but y_pred has 1"),
        ([[1.0]], [[1.0]], "must be 1-D"),
        ([], [], "empty"),
        ([1.0, np.inf], [1.0, 2.0], "y_true has 1 NaN or infinite"),
        ([1.0, 2.0], [np.nan, np.nan], "y_pred has 2 NaN or infinite"),
        (["a"], [1.0], "must hold numbers"),
    ],
)
def test_bad_regression_input_is_rejected_with_the_reason(y, pred, message):
    with pytest.raises(ValueError, match=message):
        regression_metrics(y, pred)


@pytest.mark.parametrize("name", ["log_loss", "brier", "accuracy", "macro_f1"])
def test_multiclass_subset_metric_matches_the_metric_on_the_picked_rows(name):
    y, proba = _multiclass(n=200)
    # rounded to 1 decimal, then renormalised: plenty of argmax ties
    proba = np.round(proba, 1) + 1e-3
    proba /= proba.sum(axis=1, keepdims=True)
    metric = subset_metric(name, y, proba)
    assert metric(np.arange(200)) == pytest.approx(multiclass_metrics(y, proba)[name], abs=1e-12)
    rng = np.random.default_rng(1)
    for _ in range(5):
        rows = rng.integers(0, 200, 200)
        expected = _sklearn_multiclass(y[rows], proba[rows])[name]
        assert metric(rows) == pytest.approx(expected, abs=1e-12)


def test_multiclass_subset_metric_survives_a_resample_without_a_class():
    y, proba = _multiclass(n=100, k=3)
    rows = np.flatnonzero(y != 1).repeat(2)
    for name in ("log_loss", "brier", "accuracy", "macro_f1"):
        metric = subset_metric(name, y, proba)
        expected = _sklearn_multiclass(y[rows], proba[rows])[name]
        assert metric(rows) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("name", ["rmse", "mae", "r2"])
def test_regression_subset_metric_matches_the_metric_on_the_picked_rows(name):
    y, pred = _regression(n=250)
    metric = regression_subset_metric(name, y, pred)
    assert metric(np.arange(250)) == pytest.approx(regression_metrics(y, pred)[name], abs=1e-12)
    rng = np.random.default_rng(2)
    for _ in range(5):
        rows = rng.integers(0, 250, 250)
        assert metric(rows) == pytest.approx(
            _sklearn_regression(y[rows], pred[rows])[name], abs=1e-12
        )
    assert metric(np.array([3, 3, 3, 7])) == pytest.approx(
        regression_metrics(y[[3, 3, 3, 7]], pred[[3, 3, 3, 7]])[name], abs=1e-12
    )


@pytest.mark.parametrize("name", ["roc_auc", "log_loss", "brier", "pr_auc", "ks"])
def test_binary_subset_metric_over_all_rows_is_the_full_metric(name):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 150)
    p = rng.uniform(size=150)
    full = binary_classification_metrics(y, p)[name]
    assert subset_metric(name, y, p)(np.arange(150)) == pytest.approx(full, abs=1e-12)


def test_subset_metrics_name_unknown_metrics():
    y, proba = _multiclass(n=20, k=3)
    with pytest.raises(ValueError, match=r"unknown multiclass metric 'roc_auc'.*'macro_f1'"):
        subset_metric("roc_auc", y, proba)
    with pytest.raises(ValueError, match=r"unknown regression metric 'brier'.*'rmse'"):
        regression_subset_metric("brier", [1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="use regression_subset_metric"):
        subset_metric("rmse", [0, 1], [0.2, 0.7])


def test_metric_directions_cover_every_metric():
    names = (
        set(binary_classification_metrics([0, 1], [0.2, 0.7]))
        | set(multiclass_metrics([0, 1], [[0.6, 0.4], [0.1, 0.9]]))
        | set(regression_metrics([1.0, 2.0], [1.5, 2.5]))
    )
    assert set(METRIC_DIRECTIONS) == names
    lower = {name for name, higher in METRIC_DIRECTIONS.items() if not higher}
    assert lower == {"rmse", "mae", "log_loss", "brier"}
