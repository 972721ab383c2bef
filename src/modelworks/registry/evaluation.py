"""How a registered model is scored on its holdout rows, per task.

The gate compares a challenger and the champion on the challenger's holdout rows; what a
prediction is and which metrics exist depend on the task. Each task registers an evaluator
here, and the gate evidence stored with a version names the task it was trained for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

SubsetMetric = Callable[[np.ndarray], float]
_EVALUATORS: dict[str, Callable[[Mapping[str, Any]], Evaluator]] = {}
# Tasks whose evaluator lives with the task's own code; imported when a version of that task
# is judged, so the registry (and the CLI) never import a task's libraries for nothing.
_TASK_MODULES = {
    "uplift": "modelworks.uplift.evaluation",
    "ranking": "modelworks.recommenders.evaluation",
}


class Evaluator(Protocol):
    """Scores a loaded pyfunc on evaluation rows and turns scores into resamplable metrics."""

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        """The model's predictions for every row of ``frame``."""
        ...

    def metric(self, name: str, frame: pd.DataFrame, predictions: np.ndarray) -> SubsetMetric:
        """``metric(indices)`` on the units picked by ``indices`` (a bootstrap resample)."""
        ...

    def n_units(self, frame: pd.DataFrame) -> int:
        """How many resampling units ``frame`` holds (rows, users, ...)."""
        ...

    def higher_is_better(self, name: str) -> bool:
        """Direction of the metric."""
        ...


def register_evaluator(task: str, factory: Callable[[Mapping[str, Any]], Evaluator]) -> None:
    """Make ``task`` known; ``factory(evidence)`` builds its evaluator from the gate evidence."""
    _EVALUATORS[task] = factory


def evaluator_for(evidence: Mapping[str, Any]) -> Evaluator:
    """The evaluator of the task named in a version's gate evidence."""
    task = evidence.get("task")
    if task not in _EVALUATORS and task in _TASK_MODULES:
        importlib.import_module(_TASK_MODULES[task])
    if task not in _EVALUATORS:
        raise ValueError(f"no evaluator for task {task!r}; known tasks: {sorted(_EVALUATORS)}")
    return _EVALUATORS[task](evidence)


class BinaryClassificationEvaluator:
    """Probability of the positive class against a 0/1 label column."""

    LOWER_IS_BETTER = frozenset({"log_loss", "brier"})

    def __init__(self, label: str) -> None:
        self.label = label

    def predict(self, model: Any, frame: pd.DataFrame) -> np.ndarray:
        from modelworks.serving.pyfunc import conform_to_schema

        features = conform_to_schema(frame, model.metadata.get_input_schema())
        return np.asarray(model.predict(features), dtype=float).ravel()

    def metric(self, name: str, frame: pd.DataFrame, predictions: np.ndarray) -> SubsetMetric:
        from modelworks.training.metrics import subset_metric

        return subset_metric(name, frame[self.label].to_numpy(), predictions)

    def n_units(self, frame: pd.DataFrame) -> int:
        return len(frame)

    def higher_is_better(self, name: str) -> bool:
        return name not in self.LOWER_IS_BETTER


register_evaluator(
    "binary_classification", lambda evidence: BinaryClassificationEvaluator(evidence["label"])
)
