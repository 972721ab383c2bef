"""How a registered model is scored on its holdout rows, per task.

The gate compares a challenger and the champion on the challenger's holdout rows; what a
prediction is and which metrics exist depend on the task. Each task family provides
its evaluator through ``modelworks.tasks``; the gate evidence stored with a version names
the task it was trained for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import numpy as np
import pandas as pd

SubsetMetric = Callable[[np.ndarray], float]
_EVALUATORS: dict[str, Callable[[Mapping[str, Any]], Evaluator]] = {}


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
    if task in _EVALUATORS:
        return _EVALUATORS[task](evidence)
    try:
        family = get_task(str(task))
    except ValueError as exc:
        raise ValueError(f"no evaluator for task {task!r}: {exc}") from None
    evaluator: Evaluator = family.evaluator(evidence)
    return evaluator
