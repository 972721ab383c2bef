"""Multiclass metrics for one fold, and their O(n) resampled form for paired bootstraps.

Predictions are (n_rows, n_classes) probabilities whose column j is class code j; the predicted
class is the most probable one (the first on ties).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

MULTICLASS_METRIC_NAMES = ("log_loss", "macro_f1", "accuracy", "brier")
ROW_SUM_TOLERANCE = 1e-6


def multiclass_metrics(y_codes: Any, proba: Any) -> dict[str, float]:
    """log_loss, macro_f1, accuracy and brier of class probabilities.

    log_loss counts every class of ``proba`` (``labels=range(n_classes)``), so rows that miss
    a class still score. macro_f1 averages the F1 of the classes that occur among the labels
    or the predicted classes. brier is the mean over rows of the summed squared error between
    the one-hot label and the probabilities (0 perfect, 2 worst).
    """
    # scikit-learn is imported on use: importing modelworks.training should stay cheap.
    from sklearn.metrics import accuracy_score, f1_score

    y, p = check_multiclass_scores(y_codes, proba)
    predicted = p.argmax(axis=1)
    return {
        # scikit-learn's log_loss(labels=range(n_classes)), without its warning for rows that
        # sum to 1 only within ROW_SUM_TOLERANCE.
        "log_loss": float(np.mean(_row_log_loss(y, p))),
        "macro_f1": float(f1_score(y, predicted, average="macro")),
        "accuracy": float(accuracy_score(y, predicted)),
        "brier": float(np.mean(_row_brier(y, p))),
    }


def multiclass_subset_metric(name: str, y_codes: Any, proba: Any) -> Callable[[np.ndarray], float]:
    """``metric(indices)``: a multiclass metric on the rows picked by ``indices`` (repeats allowed).

    Every metric is O(n) numpy per call: per-row losses and hits are computed once, and a
    resample only changes how many times each row counts (``np.bincount`` of the indices).
    """
    if name not in MULTICLASS_METRIC_NAMES:
        raise ValueError(
            f"unknown multiclass metric {name!r}; known: {list(MULTICLASS_METRIC_NAMES)}"
        )
    y, p = check_multiclass_scores(y_codes, proba)
    n, k = p.shape
    predicted = p.argmax(axis=1)
    if name == "macro_f1":
        cell = y * k + predicted  # confusion-matrix cell of each row, flattened

        def macro_f1(idx: np.ndarray) -> float:
            weight = np.bincount(idx, minlength=n).astype(float)
            confusion = np.bincount(cell, weights=weight, minlength=k * k).reshape(k, k)
            support = confusion.sum(axis=1) + confusion.sum(axis=0)  # true + predicted
            present = support > 0
            return float(np.mean(2 * np.diag(confusion)[present] / support[present]))

        return macro_f1
    if name == "log_loss":
        per_row = _row_log_loss(y, p)
    elif name == "brier":
        per_row = _row_brier(y, p)
    else:
        per_row = (predicted == y).astype(float)
    return lambda idx: float(np.bincount(idx, minlength=n) @ per_row / len(idx))


def _row_log_loss(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """-log of each row's probability of its true class, clipped as scikit-learn clips."""
    eps = np.finfo(float).eps
    return -np.log(np.clip(p[np.arange(len(y)), y], eps, 1 - eps))


def _row_brier(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Sum over classes of (one-hot label - probability)^2, per row."""
    squared = p**2
    true_p = p[np.arange(len(y)), y]
    return squared.sum(axis=1) - true_p**2 + (1 - true_p) ** 2


def check_probabilities(p: np.ndarray, name: str) -> None:
    """A ValueError naming ``name`` unless every value of ``p`` is a probability in [0, 1]."""
    if not np.isfinite(p).all():
        raise ValueError(f"{name} has {int((~np.isfinite(p)).sum())} NaN or infinite values")
    if p.min() < 0 or p.max() > 1:
        raise ValueError(
            f"{name} must be probabilities in [0, 1]; got range [{p.min():.4g}, {p.max():.4g}]"
        )


def check_multiclass_scores(y_codes: Any, proba: Any) -> tuple[np.ndarray, np.ndarray]:
    """Codes as int64 in 0..n_classes-1 and probabilities as an (n, n_classes) float array
    whose rows sum to 1, or a ValueError saying what is wrong."""
    y = np.asarray(y_codes)
    p = np.asarray(proba, dtype=float)
    if y.ndim != 1:
        raise ValueError(f"y_codes must be 1-D, got shape {y.shape}")
    if p.ndim != 2 or p.shape[1] < 2:
        raise ValueError(
            f"proba must be 2-D (n_rows, n_classes) with at least 2 classes, got shape {p.shape}"
        )
    if len(y) != len(p):
        raise ValueError(f"y_codes has {len(y)} values but proba has {len(p)} rows")
    if len(y) == 0:
        raise ValueError("y_codes and proba are empty")
    n_classes = p.shape[1]
    numbers = y.astype(float) if y.dtype.kind in "biuf" else np.full(len(y), np.nan)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
    bad |= (numbers < 0) | (numbers > n_classes - 1)
    if bad.any():
        found = sorted({str(v) for v in y[bad]})[:5]
        raise ValueError(
            f"y_codes must hold class codes 0..{n_classes - 1} (proba has {n_classes} columns); "
            f"found {found}"
        )
    check_probabilities(p, "proba")
    off = np.abs(p.sum(axis=1) - 1)
    if off.max() > ROW_SUM_TOLERANCE:
        raise ValueError(
            f"proba rows must sum to 1 (within {ROW_SUM_TOLERANCE:g}); "
            f"{int((off > ROW_SUM_TOLERANCE).sum())} rows do not, e.g. row {int(off.argmax())} "
            f"sums to {p[off.argmax()].sum():.6g}"
        )
    return numbers.astype(np.int64), p
