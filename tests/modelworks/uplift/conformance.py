"""The uplift family's case for the conformance suite (``tests/modelworks/tasks``): rows of a
randomised experiment whose treatment helps where ``x`` is high and hurts where it is low, and
the same rows with the outcome shuffled, which leaves no uplift to find. Monitored as a tabular
family: the case's defaults."""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelworks.uplift.params import UpliftTrainingParams
from tests.modelworks.tasks.case import ConformanceCase, features, shuffle_label, tabular_rows

PARAMS = UpliftTrainingParams.model_validate(
    {
        "treatment": "w",
        "outcome": "y",
        "value": "v",
        "value_at_stake": "s",
        "treatment_cost": 1.0,
        "time_column": "t",
        "holdout_days": 20,
        "n_splits": 3,
        "seed": 1,
        "features": {"numeric": ["x", "z"], "categorical": ["c"]},
        "candidates": {
            "t_lgbm": {
                "learner": "t_learner",
                "adapter": "lightgbm",
                "max_rounds": 60,
                "early_stopping_rounds": 10,
                "params": {"min_child_samples": 10, "num_leaves": 7},
            },
        },
    }
)


def uplift_rows(seed: int, n: int = 1_500) -> pd.DataFrame:
    frame = features(seed, n)
    rng = np.random.default_rng(seed + 1)
    frame["w"] = (rng.random(n) < 0.5).astype(int)
    logit = -0.3 + 0.5 * frame["z"] + frame["w"] * (2.5 * frame["x"] + 0.5 * (frame["c"] == "a"))
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame["s"] = rng.lognormal(3.0, 0.3, n)
    frame["v"] = frame["y"] * frame["s"]
    return frame


def shuffle_outcome(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    return shuffle_label(train, seed, label="y")


UPLIFT_CASE = ConformanceCase("uplift", PARAMS, tabular_rows(uplift_rows, PARAMS), shuffle_outcome)
