"""The gate's evaluator of the supervised families: a family's predictions against the label
column of the holdout rows, resampled by the family's own metrics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from modelworks.tasks.labels import encode, probabilities


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

    def metric(
        self, name: str, frame: pd.DataFrame, predictions: Any
    ) -> Callable[[np.ndarray], float]:
        labels = frame[self.label]
        if isinstance(predictions, pd.DataFrame):
            proba, classes = probabilities(predictions)
            return self.task.subset_metric(name, encode(labels, classes, column=self.label), proba)
        return self.task.subset_metric(name, labels.to_numpy(), predictions)

    def n_units(self, frame: pd.DataFrame) -> int:
        return len(frame)

    def higher_is_better(self, name: str) -> bool:
        return bool(self.task.higher_is_better(name))
