"""Multiclass classification: a probability per class, classes learnt from the training rows."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from modelworks.tasks.labels import class_weights, encode, probabilities
from modelworks.tasks.tabular import TabularTask

CLASSES = "classes"
"""Key of the class labels (as strings, in model column order) in the run context and the
served model's config."""


class MulticlassClassification(TabularTask):
    """Labels of three or more classes; log loss, macro-F1, accuracy and multiclass Brier."""

    name = "multiclass_classification"
    objective = "multiclass"
    metrics = {"log_loss": False, "macro_f1": True, "accuracy": True, "brier": False}
    default_selection_metric = "log_loss"
    live_loss = "half_brier"

    def check_rows(self, rows: pd.DataFrame, params: Any, *, role: str) -> None:
        super().check_rows(rows, params, role=role)
        if role == "training" and rows[params.label].nunique() < 2:
            raise ValueError(
                f"The {role} rows hold a single class of {params.label!r}: "
                f"{rows[params.label].value_counts().to_dict()}"
            )

    def prepare(self, train: pd.DataFrame, params: Any) -> dict[str, Any]:
        return {CLASSES: sorted({str(value) for value in train[params.label]})}

    def n_classes(self, context: Mapping[str, Any]) -> int | None:
        return len(context[CLASSES])

    def labels(self, rows: pd.DataFrame, params: Any, context: Mapping[str, Any]) -> np.ndarray:
        return encode(rows[params.label], context[CLASSES], column=params.label)

    def sample_weight(
        self, y: np.ndarray, params: Any, context: Mapping[str, Any]
    ) -> np.ndarray | None:
        return class_weights(y, list(context[CLASSES]), params.class_weight)

    def predict(self, fitted: Any, rows: pd.DataFrame, context: Mapping[str, Any]) -> Any:
        return pd.DataFrame(np.asarray(fitted.predict(rows)), columns=context[CLASSES])

    def evaluate(self, rows: pd.DataFrame, predictions: Any, params: Any) -> dict[str, float]:
        from modelworks.training import multiclass_metrics

        proba, classes = probabilities(predictions)
        return multiclass_metrics(encode(rows[params.label], classes, column=params.label), proba)

    def evidence(
        self, name: str, fitted: Any, rows: pd.DataFrame, predictions: np.ndarray, params: Any
    ) -> dict[str, Any]:
        from modelworks.training import plots

        proba, classes = probabilities(predictions)
        codes = encode(rows[params.label], classes, column=params.label)
        return {
            "plots/confusion_matrix.png": plots.confusion_matrix_figure(
                codes, proba, class_names=classes, label=name
            ),
            "plots/calibration.png": plots.multiclass_calibration_figure(
                codes, proba, class_names=classes, label=name
            ),
            "plots/feature_importance.png": plots.feature_importance_figure(
                fitted.feature_importance()
            ),
        }

    def live_losses(
        self, rows: pd.DataFrame, predictions: Any, params: Any, *, scale: float | None = None
    ) -> np.ndarray | None:
        """Half the multiclass Brier score of each row (a class the model never saw counts as
        a miss with probability 0)."""
        proba, classes = probabilities(predictions)
        index = {c: i for i, c in enumerate(classes)}
        codes = np.array([index.get(v, -1) for v in rows[params.label].astype(str)], dtype=int)
        truth = np.zeros_like(proba)
        seen = codes >= 0
        truth[np.flatnonzero(seen), codes[seen]] = 1.0
        return 0.5 * (((proba - truth) ** 2).sum(axis=1) + (~seen))

    def subset_metric(self, name: str, labels: np.ndarray, predictions: np.ndarray) -> Any:
        from modelworks.training.metrics import subset_metric

        return subset_metric(name, labels, predictions)

    def monitored_scores(self, predictions: Any) -> np.ndarray:
        # The confidence of the predicted class: it falls when the batch moves to where the
        # model is unsure. Class shares are watched as a categorical signal next to it.
        return probabilities(predictions)[0].max(axis=1)

    def monitoring_signals(self, predictions: Any) -> dict[str, Any]:
        return {"predicted_class": self.predicted_class(predictions)}

    def predicted_class(self, predictions: Any) -> np.ndarray:
        """The most probable class of each row, by label."""
        proba, classes = probabilities(predictions)
        return np.asarray(classes, dtype=object)[proba.argmax(axis=1)]

    def scoring_columns(self, predictions: Any) -> dict[str, Any]:
        proba, classes = probabilities(predictions)
        return {
            "predicted_class": np.asarray(classes, dtype=object)[proba.argmax(axis=1)],
            "score": proba.max(axis=1),
            **{f"proba_{c}": proba[:, i] for i, c in enumerate(classes)},
        }

    def monitoring_note(self) -> str | None:
        return (
            "Performance is estimated only for binary models; for several classes this report "
            "shows the drift of the predicted-class shares and of the model's confidence, and "
            "realised log loss, macro-F1 and accuracy once labels arrive."
        )
