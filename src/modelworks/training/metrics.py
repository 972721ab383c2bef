"""Metrics for one fold (binary here; multiclass and regression in their own modules, exported
from here too), which direction is better for each, and their summary over folds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from modelworks.training.metrics_multiclass import (
    MULTICLASS_METRIC_NAMES,
    check_multiclass_scores,
    check_probabilities,
    multiclass_metrics,
    multiclass_subset_metric,
)
from modelworks.training.metrics_regression import (
    REGRESSION_METRIC_NAMES,
    check_regression_predictions,
    regression_metrics,
    regression_subset_metric,
)

__all__ = [
    "METRIC_DIRECTIONS",
    "METRIC_NAMES",
    "MULTICLASS_METRIC_NAMES",
    "REGRESSION_METRIC_NAMES",
    "binary_classification_metrics",
    "check_binary_scores",
    "check_multiclass_scores",
    "check_regression_predictions",
    "ks_statistic",
    "multiclass_metrics",
    "multiclass_subset_metric",
    "regression_metrics",
    "regression_subset_metric",
    "subset_metric",
    "summarise_folds",
]

METRIC_NAMES = ("roc_auc", "pr_auc", "log_loss", "brier", "ks")
"""Binary-classification metrics, as ``binary_classification_metrics`` returns them."""

METRIC_DIRECTIONS: dict[str, bool] = {
    "roc_auc": True,
    "pr_auc": True,
    "ks": True,
    "log_loss": False,
    "brier": False,
    "macro_f1": True,
    "accuracy": True,
    "rmse": False,
    "mae": False,
    "r2": True,
}
"""higher_is_better for every metric name of the binary, multiclass and regression metrics."""


def binary_classification_metrics(y_true: Any, y_score: Any) -> dict[str, float]:
    """roc_auc, pr_auc (average precision), log_loss, brier and ks of probability scores.

    ks is the Kolmogorov-Smirnov statistic: the largest distance between the empirical score
    CDFs of the positives and the negatives (0 = no separation, 1 = perfect).
    """
    # scikit-learn is imported on use: it takes seconds, and importing modelworks.training
    # (as every Kedro session does) should not.
    from sklearn.metrics import (
        average_precision_score,
        brier_score_loss,
        log_loss,
        roc_auc_score,
    )

    y, p = check_binary_scores(y_true, y_score)
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ks": ks_statistic(y, p),
    }


def ks_statistic(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Max |F_pos(t) - F_neg(t)| over thresholds t, for validated 0/1 labels and scores."""
    from sklearn.metrics import roc_curve

    # tpr - fpr at a threshold t is F_neg(t-) - F_pos(t-), so the ROC points carry every
    # value the CDF difference takes.
    fpr, tpr, _ = roc_curve(y_true, y_score, drop_intermediate=False)
    return float(np.max(np.abs(tpr - fpr)))


def summarise_folds(fold_metrics: list[dict[str, float]]) -> dict[str, float]:
    """``<metric>_mean`` and ``<metric>_std`` over folds.

    The std is the sample standard deviation (ddof=1): folds are a sample of the splits the
    data could have had, and a reader comparing two candidates' spreads expects the sample one.
    A single fold has no spread to estimate, so it has no ``_std`` at all: 0.0 would claim a
    perfectly stable model, and NaN is no value MLflow logs.
    """
    if not fold_metrics:
        raise ValueError("summarise_folds needs the metrics of at least one fold")
    names = list(fold_metrics[0])
    for index, fold in enumerate(fold_metrics[1:], start=1):
        if set(fold) != set(names):
            raise ValueError(
                f"fold {index} has metrics {sorted(fold)}, fold 0 has {sorted(names)}; "
                "every fold must report the same metrics"
            )
    summary: dict[str, float] = {}
    for name in names:
        values = np.array([fold[name] for fold in fold_metrics], dtype=float)
        summary[f"{name}_mean"] = float(values.mean())
        if len(values) > 1:
            summary[f"{name}_std"] = float(values.std(ddof=1))
    return summary


def check_binary_scores(y_true: Any, y_score: Any) -> tuple[np.ndarray, np.ndarray]:
    """Labels as 0/1 ints and scores as floats in [0, 1], or a ValueError saying what is wrong."""
    y = np.asarray(y_true)
    p = np.asarray(y_score, dtype=float)
    if y.ndim != 1 or p.ndim != 1:
        raise ValueError(
            f"y_true and y_score must be 1-D, got shapes {y.shape} and {p.shape} "
            "(pass the positive-class probability only)"
        )
    if len(y) != len(p):
        raise ValueError(f"y_true has {len(y)} values but y_score has {len(p)}")
    if len(y) == 0:
        raise ValueError("y_true and y_score are empty")
    if not np.isin(y, [0, 1]).all():
        found = sorted({str(v) for v in np.unique(y[~np.isin(y, [0, 1])])})[:5]
        raise ValueError(f"y_true must hold binary labels 0/1; found {found}")
    counts = np.bincount(y.astype(np.int64), minlength=2)
    if counts.min() == 0:
        raise ValueError(
            f"y_true must contain both classes; got {counts[0]} negatives and {counts[1]} positives"
        )
    check_probabilities(p, "y_score")
    return y.astype(np.int64), p


def subset_metric(name: str, y_true: Any, y_score: Any) -> Callable[[np.ndarray], float]:
    """``metric(indices)``: the metric on the rows picked by ``indices`` (repeats allowed).

    Made for paired bootstraps, which evaluate thousands of resamples of the same rows.
    A 1-D ``y_score`` is binary: ``roc_auc``, ``log_loss`` and ``brier`` take O(n) numpy per
    call (the scores are sorted once; a resample only changes how many times each row counts);
    ``pr_auc`` and ``ks`` fall back to ``binary_classification_metrics`` on the selected rows.
    A 2-D ``y_score`` is multiclass probabilities (``multiclass_subset_metric``: log_loss,
    brier, accuracy, macro_f1, all O(n)). Regression has ``regression_subset_metric``.
    """
    if np.ndim(y_score) == 2:
        return multiclass_subset_metric(name, y_true, y_score)
    if name in REGRESSION_METRIC_NAMES:
        raise ValueError(f"{name!r} is a regression metric; use regression_subset_metric")
    y, p = check_binary_scores(y_true, y_score)
    n = len(y)
    if name == "roc_auc":
        return _weighted_auc(y, p)
    if name in ("log_loss", "brier"):
        eps = np.finfo(float).eps  # as scikit-learn clips
        clipped = np.clip(p, eps, 1 - eps)
        losses = (
            -(y * np.log(clipped) + (1 - y) * np.log(1 - clipped))
            if name == "log_loss"
            else (p - y) ** 2
        )
        return lambda idx: float(np.bincount(idx, minlength=n) @ losses / len(idx))
    if name not in METRIC_NAMES:
        raise ValueError(f"unknown metric {name!r}; known: {list(METRIC_NAMES)}")
    return lambda idx: binary_classification_metrics(y[idx], p[idx])[name]


def _weighted_auc(y: np.ndarray, p: np.ndarray) -> Callable[[np.ndarray], float]:
    """ROC-AUC with each row counted as often as it appears in ``idx``; ties count half."""
    order = np.argsort(p, kind="stable")
    positive = y[order] == 1
    tie_group = np.cumsum(np.r_[True, p[order][1:] != p[order][:-1]]) - 1
    n = len(y)

    def auc(idx: np.ndarray) -> float:
        weight = np.bincount(idx, minlength=n)[order].astype(float)
        pos = np.bincount(tie_group, weights=weight * positive)
        neg = np.bincount(tie_group, weights=weight * ~positive)
        below = np.cumsum(neg) - neg
        pairs = pos.sum() * neg.sum()
        if pairs == 0:
            return float("nan")
        return float(np.sum(pos * (below + 0.5 * neg)) / pairs)

    return auc
