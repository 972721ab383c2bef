"""Regression metrics for one fold, and their O(n) resampled form for paired bootstraps."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

REGRESSION_METRIC_NAMES = ("rmse", "mae", "r2")


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, float]:
    """rmse, mae and r2 (coefficient of determination, as scikit-learn's ``r2_score``)."""
    y, p = check_regression_predictions(y_true, y_pred)
    weight = np.ones(len(y))
    return {name: _weighted(name, y, p, weight) for name in REGRESSION_METRIC_NAMES}


def regression_subset_metric(name: str, y_true: Any, y_pred: Any) -> Callable[[np.ndarray], float]:
    """``metric(indices)``: rmse, mae or r2 on the rows picked by ``indices`` (repeats allowed).

    For paired bootstraps: each call is O(n) numpy, a resample only changing how many times
    each row counts (``np.bincount`` of the indices).
    """
    if name not in REGRESSION_METRIC_NAMES:
        raise ValueError(
            f"unknown regression metric {name!r}; known: {list(REGRESSION_METRIC_NAMES)}"
        )
    y, p = check_regression_predictions(y_true, y_pred)
    n = len(y)
    return lambda idx: _weighted(name, y, p, np.bincount(idx, minlength=n).astype(float))


def _weighted(name: str, y: np.ndarray, p: np.ndarray, weight: np.ndarray) -> float:
    """``name`` with row i counted ``weight[i]`` times (weights sum to the resample size)."""
    total = weight.sum()
    if name == "rmse":
        return float(np.sqrt(weight @ (y - p) ** 2 / total))
    if name == "mae":
        return float(weight @ np.abs(y - p) / total)
    residual = float(weight @ (y - p) ** 2)
    spread = float(weight @ (y - weight @ y / total) ** 2)
    if spread == 0:
        # scikit-learn's convention for a constant target: perfect predictions 1, others 0.
        return 1.0 if residual == 0 else 0.0
    return 1.0 - residual / spread


def check_regression_predictions(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    """Targets and predictions as finite 1-D float arrays of one length, or a ValueError."""
    try:
        y = np.asarray(y_true, dtype=float)
        p = np.asarray(y_pred, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"y_true and y_pred must hold numbers: {exc}") from None
    if y.ndim != 1 or p.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D, got shapes {y.shape} and {p.shape}")
    if len(y) != len(p):
        raise ValueError(f"y_true has {len(y)} values but y_pred has {len(p)}")
    if len(y) == 0:
        raise ValueError("y_true and y_pred are empty")
    for name, values in (("y_true", y), ("y_pred", p)):
        bad = int((~np.isfinite(values)).sum())
        if bad:
            raise ValueError(f"{name} has {bad} NaN or infinite values")
    return y, p
