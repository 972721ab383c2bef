"""How a registered model is scored on its holdout rows, per task.

The gate compares a challenger and the champion on the challenger's holdout rows; what a
prediction is and which metrics exist depend on the task. Each task family provides
its evaluator through ``modelworks.tasks``; the gate evidence stored with a version names
the task it was trained for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

SubsetMetric = Callable[[np.ndarray], float]
_EVALUATORS: dict[str, Callable[[Mapping[str, Any]], Evaluator]] = {}
# Families whose evaluator still registers itself from its own module, imported on first use.
_TASK_MODULES = {
    "uplift": "modelworks.uplift.evaluation",
    "ranking": "modelworks.recommenders.evaluation",
}


class Evaluator(Protocol):
    """Scores a loaded pyfunc on evaluation rows and turns scores into resamplable metrics."""

    def predict(self, model: Any, frame: pd.DataFrame) -> Any:
        """The model's predictions for every row of ``frame``."""
        ...

    def metric(self, name: str, frame: pd.DataFrame, predictions: Any) -> SubsetMetric:
        """``metric(indices)`` on the units picked by ``indices`` (a bootstrap resample)."""
        ...

    def n_units(self, frame: pd.DataFrame) -> int:
        """How many resampling units ``frame`` holds (rows, users, ...)."""
        ...

    def higher_is_better(self, name: str) -> bool:
        """Direction of the metric."""
        ...


def register_evaluator(task: str, factory: Callable[[Mapping[str, Any]], Evaluator]) -> None:
    """Override the evaluator of ``task`` (tests, or a family kept outside modelworks.tasks);
    ``factory(evidence)`` builds it from the gate evidence."""
    _EVALUATORS[task] = factory


def evaluator_for(evidence: Mapping[str, Any]) -> Evaluator:
    """The evaluator of the task named in a version's gate evidence: the task family's own."""
    from modelworks.tasks import get_task

    task = evidence.get("task")
    if task not in _EVALUATORS and task in _TASK_MODULES:
        importlib.import_module(_TASK_MODULES[str(task)])
    if task in _EVALUATORS:
        return _EVALUATORS[task](evidence)
    try:
        family = get_task(str(task))
    except ValueError as exc:
        raise ValueError(f"no evaluator for task {task!r}: {exc}") from None
    evaluator: Evaluator = family.evaluator(evidence)
    return evaluator


class TabularEvaluator:
    """A supervised family's predictions against the label column of its holdout rows; the
    family says what a prediction is and how each metric resamples."""

    def __init__(self, task: Any, evidence: Mapping[str, Any]) -> None:
        self.task = task
        self.label = str(evidence["label"])

    def predict(self, model: Any, frame: pd.DataFrame) -> Any:
        from modelworks.serving.pyfunc import conform_to_schema

        features = conform_to_schema(frame, model.metadata.get_input_schema())
        predictions = model.predict(features)
        if isinstance(predictions, pd.DataFrame):
            return predictions
        return np.asarray(predictions, dtype=float).ravel()

    def metric(self, name: str, frame: pd.DataFrame, predictions: Any) -> SubsetMetric:
        labels = frame[self.label]
        if isinstance(predictions, pd.DataFrame):
            from modelworks.tasks.multiclass import encode, probabilities

            proba, classes = probabilities(predictions)
            return self.task.subset_metric(name, encode(labels, classes, column=self.label), proba)
        return self.task.subset_metric(name, labels.to_numpy(), predictions)

    def n_units(self, frame: pd.DataFrame) -> int:
        return len(frame)

    def higher_is_better(self, name: str) -> bool:
        return bool(self.task.higher_is_better(name))
