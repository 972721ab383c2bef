"""Realised classification performance once labels are known; checks on scores and labels."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

# Offending values named in an error message.
_SHOWN = 5


def realised_performance(scores: Any, labels: Any, *, threshold: float = 0.5) -> dict[str, Any]:
    """ROC-AUC, accuracy, precision and recall at ``threshold``, and the positive rates.

    A row is predicted positive when its score is at or above ``threshold``. ``roc_auc`` is
    ``None`` when the labels hold one class only; ``precision`` when nothing is predicted
    positive; ``recall`` when there is no positive label.
    """
    s, y = scores_and_labels(scores, labels)
    predicted = s >= threshold
    n_positive = int(y.sum())
    n_predicted = int(predicted.sum())
    true_positive = int(np.sum(predicted & y))
    return {
        "n": len(s),
        "threshold": threshold,
        "roc_auc": roc_auc(s, y),
        "accuracy": float(np.mean(predicted == y)),
        "precision": true_positive / n_predicted if n_predicted else None,
        "recall": true_positive / n_positive if n_positive else None,
        "positive_rate": n_positive / len(s),
        "predicted_positive_rate": n_predicted / len(s),
    }


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Area under the ROC curve by the Mann-Whitney rank sum; tied scores count one half."""
    n_positive = int(labels.sum())
    n_negative = len(labels) - n_positive
    if n_positive == 0 or n_negative == 0:
        return None
    ranks = stats.rankdata(scores)
    rank_sum = float(ranks[labels].sum())
    return (rank_sum - n_positive * (n_positive + 1) / 2) / (n_positive * n_negative)


def finite_scores(scores: Any, *, what: str = "scores") -> np.ndarray:
    """Scores as a float array; NaN or infinite scores are an error, naming how many."""
    try:
        s = np.asarray(scores, dtype=float).ravel()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"The {what} are not numeric: {exc}") from None
    if len(s) == 0:
        raise ValueError(f"No {what}: there is nothing to evaluate")
    bad = ~np.isfinite(s)
    if bad.any():
        raise ValueError(
            f"{int(bad.sum())} of {len(s)} {what} are NaN or infinite, "
            f"e.g. at positions {np.flatnonzero(bad)[:_SHOWN].tolist()}"
        )
    return s


def scores_and_labels(scores: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Finite scores and boolean labels of the same length; labels must be 0/1 or booleans."""
    s = finite_scores(scores)
    raw = np.asarray(labels).ravel()
    if len(raw) != len(s):
        raise ValueError(f"{len(s)} scores but {len(raw)} labels: they must pair up row by row")
    if raw.dtype == bool:
        return s, raw
    # Element by element, so one stray string does not hide which values are fine.
    numeric = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(numeric, (0.0, 1.0))
    if bad.any():
        examples = np.unique(raw[bad].astype(str))[:_SHOWN].tolist()
        raise ValueError(f"Labels must be 0/1 or booleans; {int(bad.sum())} are not: {examples}")
    return s, numeric == 1.0
