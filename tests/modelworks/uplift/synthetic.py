"""Rows with a known uplift, shared by the learner and cross-validation tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelworks.training import FeatureSpec
from modelworks.uplift import UpliftData

FEATURES = FeatureSpec(numeric=["x1", "x2", "x3"], categorical=["segment"])
PARAMS = {
    "catboost": {"learning_rate": 0.1, "depth": 4, "thread_count": 1},
    "lightgbm": {"learning_rate": 0.1, "num_leaves": 8, "min_data_in_leaf": 40, "num_threads": 1},
}


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def synthetic(n: int, seed: int) -> tuple[UpliftData, np.ndarray]:
    """Randomised rows and their true uplift: the treatment helps when x1 is high and in
    segment a, and hurts when x1 is low; x2 and x3 move only the baseline."""
    rng = np.random.default_rng(seed)
    segment = rng.choice(list("abc"), n)
    x1, x2, x3 = rng.normal(size=(3, n))
    baseline = -0.5 + 0.8 * x2 + 0.3 * x3
    effect = 0.6 * x1 + 0.5 * (segment == "a") - 0.1
    p_control, p_treated = _sigmoid(baseline), _sigmoid(baseline + effect)
    treatment = (rng.random(n) < 0.5).astype(int)
    outcome = (rng.random(n) < np.where(treatment == 1, p_treated, p_control)).astype(int)
    X = pd.DataFrame({"x1": x1, "segment": segment, "x2": x2, "x3": x3, "id": np.arange(n)})
    return UpliftData(X, treatment, outcome), p_treated - p_control


def top_30_capture(predicted: np.ndarray, true_uplift: np.ndarray) -> float:
    """True uplift gained by treating the top 30 % by ``predicted``, as a share of the most
    that any 30 % of the rows would gain."""
    k = int(0.3 * len(predicted))
    chosen = np.argsort(-predicted, kind="stable")[:k]
    return float(true_uplift[chosen].sum() / np.sort(true_uplift)[::-1][:k].sum())
