"""Binary classification: the probability of the positive class (label 1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from modelworks.tasks.labels import class_weights
from modelworks.tasks.tabular import TabularTask


class BinaryClassification(TabularTask):
    """0/1 labels; ROC-AUC, PR-AUC, KS, log loss and Brier of calibrated probabilities."""

    name = "binary_classification"
    objective = "binary"
    metrics = {"roc_auc": True, "pr_auc": True, "ks": True, "log_loss": False, "brier": False}
    default_selection_metric = "roc_auc"
    live_loss = "brier"
    calibrated = True

    def check_rows(self, rows: pd.DataFrame, params: Any, *, role: str) -> None:
        super().check_rows(rows, params, role=role)
        counts = rows[params.label].value_counts()
        unexpected = [v for v in counts.index if v not in (0, 1)]
        if unexpected:
            raise ValueError(
                f"Label column {params.label!r} of the {role} rows must hold 0/1 for task "
                f"binary_classification; found {unexpected[:5]} (is the task multiclass or "
                "regression?)"
            )
        if len(counts) < 2:
            raise ValueError(f"The {role} rows hold a single label class: {counts.to_dict()}")

    def sample_weight(
        self, y: np.ndarray, params: Any, context: Mapping[str, Any]
    ) -> np.ndarray | None:
        return class_weights(y.astype(int), [0, 1], params.class_weight)

    def evaluate(self, rows: pd.DataFrame, predictions: Any, params: Any) -> dict[str, float]:
        from modelworks.training import binary_classification_metrics

        return binary_classification_metrics(rows[params.label].to_numpy(), predictions)

    def evidence(
        self, name: str, fitted: Any, rows: pd.DataFrame, predictions: Any, params: Any
    ) -> dict[str, Any]:
        from modelworks.training import plots

        y = rows[params.label].to_numpy()
        return {
            "plots/roc.png": plots.roc_curve_figure(y, predictions, label=name),
            "plots/precision_recall.png": plots.precision_recall_figure(y, predictions, label=name),
            "plots/calibration.png": plots.calibration_figure(y, predictions, label=name),
            "plots/feature_importance.png": plots.feature_importance_figure(
                fitted.feature_importance()
            ),
        }

    def subset_metric(self, name: str, labels: np.ndarray, predictions: np.ndarray) -> Any:
        from modelworks.training.metrics import subset_metric

        return subset_metric(name, labels, predictions)

    def reference_labels(self, rows: pd.DataFrame, params: Any) -> np.ndarray | None:
        return rows[params.label].to_numpy()

    def realised_performance(
        self, rows: pd.DataFrame, predictions: Any, params: Any
    ) -> dict[str, Any] | None:
        from modelworks.monitoring.metrics import realised_performance

        if params.label not in rows.columns or rows[params.label].isna().any() or rows.empty:
            return None
        return realised_performance(predictions, rows[params.label].to_numpy())

    def live_losses(
        self, rows: pd.DataFrame, predictions: Any, params: Any, *, scale: float | None = None
    ) -> np.ndarray | None:
        """The Brier score of each row."""
        y = rows[params.label].to_numpy(dtype=float)
        return (np.asarray(predictions, dtype=float).ravel() - y) ** 2
