"""One conformance case per task family: tiny generated data, parameters and a worse model.

A case says how to make rows whose label the features predict, and how to take the signal
out of training rows (``degrade``: the label shuffled), so a model trained on degraded rows is
worse than one trained on the real ones, judged on the same real holdout by the family's own
selection metric. Every family in
``modelworks.tasks.FAMILIES`` must have a case here; the suite checks that too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelworks.tasks.params import TrainingParams

START = pd.Timestamp("2024-01-01", tz="UTC")


@dataclass(frozen=True)
class ConformanceCase:
    """What the suite needs of a family: rows, typed training params and the batch to score."""

    family: str
    params: Any
    make_rows: Callable[[int], pd.DataFrame]
    """seed -> labelled rows with ``id``, ``t``, the features and the label."""
    degrade: Callable[[pd.DataFrame, int], pd.DataFrame]
    """(training rows, seed) -> the same rows with the signal taken out."""


def _tabular_params(task: str, label: str = "y", **extra: Any) -> TrainingParams:
    return TrainingParams.model_validate(
        {
            "task": task,
            "label": label,
            "time_column": "t",
            "holdout_days": 20,
            "n_splits": 3,
            "seed": 1,
            "features": {"numeric": ["x", "z"], "categorical": ["c"]},
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


def _features(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "t": START + pd.to_timedelta(np.arange(n) * 90 // n, "D"),
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "c": rng.choice(["a", "b", "c"], size=n),
        }
    )


def shuffle_label(train: pd.DataFrame, seed: int, label: str = "y") -> pd.DataFrame:
    """The training rows with their labels shuffled: the features no longer predict them."""
    rng = np.random.default_rng(seed + 1000)
    return train.assign(**{label: rng.permutation(train[label].to_numpy())})


def binary_rows(seed: int, n: int = 900) -> pd.DataFrame:
    frame = _features(seed, n)
    rng = np.random.default_rng(seed + 1)
    logit = 2.0 * frame["x"] - frame["z"] + np.where(frame["c"] == "a", 1.0, -0.5)
    frame["y"] = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def multiclass_rows(seed: int, n: int = 900) -> pd.DataFrame:
    frame = _features(seed, n)
    rng = np.random.default_rng(seed + 1)
    logits = np.column_stack(
        [2 * frame["x"], 2 * frame["z"], np.where(frame["c"] == "a", 1.5, -1.0)]
    ) + rng.gumbel(size=(n, 3))
    frame["y"] = np.array(["low", "mid", "high"])[logits.argmax(axis=1)]
    return frame


def regression_rows(seed: int, n: int = 900) -> pd.DataFrame:
    frame = _features(seed, n)
    rng = np.random.default_rng(seed + 1)
    frame["y"] = (
        3.0 * frame["x"]
        - 2.0 * frame["z"]
        + np.where(frame["c"] == "a", 2.0, 0.0)
        + rng.normal(scale=0.5, size=n)
    )
    return frame


CASES: dict[str, ConformanceCase] = {
    "binary_classification": ConformanceCase(
        "binary_classification",
        _tabular_params("binary_classification"),
        binary_rows,
        shuffle_label,
    ),
    "multiclass_classification": ConformanceCase(
        "multiclass_classification",
        _tabular_params("multiclass_classification", class_weight="balanced"),
        multiclass_rows,
        shuffle_label,
    ),
    "regression": ConformanceCase(
        "regression", _tabular_params("regression"), regression_rows, shuffle_label
    ),
}

# Families whose cases need their own generators; they import the helpers above.
from tests.modelworks.uplift.conformance import UPLIFT_CASE  # noqa: E402

CASES["uplift"] = UPLIFT_CASE
