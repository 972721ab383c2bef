"""Label-free performance estimation from calibrated probabilities (confidence-based, as CBPE).

If the reference calibration still holds on the batch (the population may shift, the relation
between features and label may not), a row with calibrated probability p is positive with
probability p, independently of the others. Every metric then has an expectation over the
unknown labels, computed here in closed form, and a standard error from the same model: the
spread of the realised metric around the estimate once labels arrive. It does not include the
error of the calibration map itself, which shrinks with the size of the labelled reference.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from modelworks.monitoring.calibration import calibrate
from modelworks.monitoring.profile import score_profile


def estimate_performance(
    profile: dict[str, Any], scores: Any, *, threshold: float = 0.5
) -> dict[str, Any]:
    """Expected ROC-AUC, accuracy, precision, recall and positive rate of an unlabelled batch.

    ``scores`` are the model's raw scores on the batch; the profile's calibration map turns
    them into probabilities. Non-finite scores are left out and counted in ``n_missing``.
    The keys of ``realised_performance`` with the same meaning, plus ``*_se`` standard errors
    for ROC-AUC, accuracy and positive rate.
    """
    calibration = score_profile(profile).get("calibration")
    if calibration is None:
        raise ValueError(
            "The reference profile has scores but no calibration: pass labels= with the "
            "scores to build_reference_profile to estimate performance without labels"
        )
    s = np.asarray(scores, dtype=float).ravel()
    finite = np.isfinite(s)
    if not finite.any():
        raise ValueError(f"None of the {len(s)} scores is finite: there is nothing to estimate")
    s = s[finite]
    estimate = expected_performance(s, calibrate(calibration, s), threshold=threshold)
    return estimate | {"n_missing": int(len(finite) - finite.sum())}


def expected_performance(
    scores: np.ndarray, probabilities: np.ndarray, *, threshold: float = 0.5
) -> dict[str, Any]:
    """Expected metrics when row i is positive with probability ``probabilities[i]``.

    Accuracy, the positive rate and (as ratios of expected counts) precision and recall are
    averages of independent Bernoulli terms; ROC-AUC is ``expected_roc_auc``.
    """
    p = np.asarray(probabilities, dtype=float)
    n = len(p)
    predicted = np.asarray(scores) >= threshold
    correct = np.where(predicted, p, 1 - p)
    true_positive = float(p[predicted].sum())
    n_predicted = int(predicted.sum())
    expected_positive = float(p.sum())
    auc, auc_se = expected_roc_auc(scores, p)
    return {
        "n": n,
        "threshold": threshold,
        "roc_auc": auc,
        "roc_auc_se": auc_se,
        "accuracy": float(correct.mean()),
        "accuracy_se": _bernoulli_mean_se(correct),
        "precision": true_positive / n_predicted if n_predicted else None,
        "recall": true_positive / expected_positive if expected_positive > 0 else None,
        "positive_rate": expected_positive / n,
        "positive_rate_se": _bernoulli_mean_se(p),
        "predicted_positive_rate": n_predicted / n,
    }


def expected_roc_auc(scores: Any, probabilities: Any) -> tuple[float | None, float | None]:
    """Expected ROC-AUC and its standard error, in O(n log n).

    AUC = sum over pairs i != j of p_i (1 - p_j) K_ij / sum of p_i (1 - p_j), with K_ij = 1
    when s_i > s_j, 1/2 on a tie and 0 otherwise: the expected number of correctly ordered
    (positive, negative) pairs over the expected number of such pairs. Sorting by score turns
    each row's sum over the others into cumulative sums over groups of tied scores. The standard
    error is the delta method on AUC(y) = U(y) / D(y) around y = p: the variance of a sum of
    independent Bernoulli labels weighted by the gradient. ``None`` for fewer than two rows or
    when every probability is 0 or every one is 1.
    """
    s = np.asarray(scores, dtype=float)
    p = np.asarray(probabilities, dtype=float)
    order = np.argsort(s, kind="stable")
    s, p = s[order], p[order]
    q = 1 - p
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    group = np.cumsum(np.r_[True, s[1:] != s[:-1]]) - 1
    pos_g = np.add.reduceat(p, starts)  # expected positives in each tie group
    neg_g = np.add.reduceat(q, starts)
    self_g = np.add.reduceat(p * q, starts)
    neg_below = np.cumsum(neg_g) - neg_g  # expected negatives strictly below each group
    pos_above = pos_g.sum() - np.cumsum(pos_g)  # expected positives strictly above

    positives, negatives = float(p.sum()), float(q.sum())
    pairs = positives * negatives - float(self_g.sum())
    if len(s) < 2 or pairs <= 0:
        return None, None
    ordered = float(np.sum(pos_g * neg_below) + 0.5 * np.sum(pos_g * neg_g - self_g))
    auc = ordered / pairs

    # dU/dy_k: negatives ranked below k gained, positives ranked above k lost (ties: half).
    d_ordered = (neg_below[group] + 0.5 * (neg_g[group] - q)) - (
        pos_above[group] + 0.5 * (pos_g[group] - p)
    )
    d_pairs = negatives - positives - 1 + 2 * p
    gradient = (d_ordered * pairs - ordered * d_pairs) / pairs**2
    se = math.sqrt(float(np.sum(gradient**2 * p * q)))
    return auc, se


def _bernoulli_mean_se(p: np.ndarray) -> float:
    """Standard error of the mean of independent Bernoulli(p_i) variables."""
    return math.sqrt(float(np.sum(p * (1 - p)))) / len(p)
