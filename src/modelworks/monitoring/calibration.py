"""A calibration map from model score to probability, learned once on labelled reference rows.

Isotonic regression (pool adjacent violators, in scipy) makes no assumption on the shape of the
miscalibration beyond monotonicity, which keeps the model's ranking: exactly what the label-free
performance estimate needs. The map is stored as the ends of its constant pieces and applied
with linear interpolation between them, clamped outside the reference's score range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import optimize

from modelworks.monitoring.metrics import finite_scores, scores_and_labels

CALIBRATION_METHOD = "isotonic"


def fit_calibration(scores: Any, labels: Any) -> dict[str, Any]:
    """Isotonic map from score to the probability of the positive label; JSON-serialisable.

    Fit it on rows the model did not train on (a holdout): on its own training rows a model
    looks better calibrated and more confident than it will be on new data.
    """
    s, y = scores_and_labels(scores, labels)
    if y.all() or not y.any():
        raise ValueError(
            f"Calibration needs both labels among the reference rows; all {len(y)} are {bool(y[0])}"
        )
    order = np.argsort(s, kind="stable")
    s, y = s[order], y[order].astype(float)
    # One point per distinct score, weighted by its rows: ties must get one probability.
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    weights = np.diff(np.r_[starts, len(s)]).astype(float)
    means = np.add.reduceat(y, starts) / weights
    fitted = optimize.isotonic_regression(means, weights=weights).x
    knots = s[starts]
    # The fitted function is constant on each block; its two ends are all the map needs.
    first = np.flatnonzero(np.r_[True, fitted[1:] != fitted[:-1]])
    last = np.r_[first[1:] - 1, len(fitted) - 1]
    keep = np.union1d(first, last)
    return {
        "method": CALIBRATION_METHOD,
        "n": len(s),
        "scores": knots[keep].tolist(),
        "probabilities": fitted[keep].tolist(),
    }


def calibrate(calibration: dict[str, Any], scores: Any) -> np.ndarray:
    """Calibrated probabilities of ``scores``: the stored map, interpolated and clamped."""
    if calibration.get("method") != CALIBRATION_METHOD:
        raise ValueError(
            f"Unknown calibration method {calibration.get('method')!r} "
            f"(expected {CALIBRATION_METHOD!r})"
        )
    s = finite_scores(scores)
    return np.interp(s, calibration["scores"], calibration["probabilities"])
