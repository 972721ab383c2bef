"""One conformance case per task family: tiny generated data, parameters and a worse model.

A case says how to make rows whose label the features predict, and how to take the signal
out of training rows (``degrade``: the label shuffled, a ranking's items shuffled), so a model
trained on degraded rows is worse than one trained on the real ones, judged on the same real
holdout by the family's own selection metric. What a case supplies is ``case.ConformanceCase``;
every family in ``modelworks.tasks.FAMILIES`` must have a case here, and the suite checks that.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from modelworks.tasks.params import TrainingParams
from tests.modelworks.recommenders.conformance import RANKING_CASE
from tests.modelworks.tasks.case import ConformanceCase, features, shuffle_label, tabular_rows
from tests.modelworks.uplift.conformance import UPLIFT_CASE


def _tabular_params(task: str, label: str = "y", **extra: Any) -> TrainingParams:
    return TrainingParams.model_validate(
        {
            "task": task,
            "label": label,
            "time_column": "t",
            "holdout_days": 20,
            "n_splits": 3,
            "seed": 1,
            "features": {"numeric": ["x", "z", "k"], "categorical": ["c"]},
            "candidates": {
                "lgbm": {
                    "adapter": "lightgbm",
                    "max_rounds": 60,
                    "early_stopping_rounds": 10,
                    "params": {"min_child_samples": 5},
                },
            },
            **extra,
        }
    )


def binary_rows(seed: int, n: int = 900) -> pd.DataFrame:
    frame = features(seed, n)
    rng = np.random.default_rng(seed + 1)
    logit = 2.0 * frame["x"] - frame["z"] + np.where(frame["c"] == "a", 1.0, -0.5)
    frame["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def multiclass_rows(seed: int, n: int = 900) -> pd.DataFrame:
    frame = features(seed, n)
    rng = np.random.default_rng(seed + 1)
    logits = np.column_stack(
        [2 * frame["x"], 2 * frame["z"], np.where(frame["c"] == "a", 1.5, -1.0)]
    ) + rng.gumbel(size=(n, 3))
    frame["y"] = np.array(["low", "mid", "high"])[logits.argmax(axis=1)]
    return frame


def regression_rows(seed: int, n: int = 900) -> pd.DataFrame:
    frame = features(seed, n)
    rng = np.random.default_rng(seed + 1)
    frame["y"] = (
        3.0 * frame["x"]
        - 2.0 * frame["z"]
        + np.where(frame["c"] == "a", 2.0, 0.0)
        + rng.normal(scale=0.5, size=n)
    )
    return frame


def _tabular_case(family: str, make_rows: Any, **extra: Any) -> ConformanceCase:
    params = _tabular_params(family, **extra)
    return ConformanceCase(family, params, tabular_rows(make_rows, params), shuffle_label)


CASES: dict[str, ConformanceCase] = {
    "binary_classification": _tabular_case("binary_classification", binary_rows),
    "multiclass_classification": _tabular_case(
        "multiclass_classification", multiclass_rows, class_weight="balanced"
    ),
    "regression": _tabular_case("regression", regression_rows),
    "uplift": UPLIFT_CASE,
    "ranking": RANKING_CASE,
}
