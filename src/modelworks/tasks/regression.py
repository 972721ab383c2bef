"""Regression: a continuous label; RMSE, MAE and R² with lower-is-better losses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from modelworks.tasks.tabular import TabularTask


class Regression(TabularTask):
    """Predicted values of a numeric label; plain (shuffled) K-fold."""

    name = "regression"
    objective = "regression"
    stratified = False
    metrics = {"rmse": False, "mae": False, "r2": True}
    default_selection_metric = "rmse"
    live_loss = "capped_squared_error"

    def check_rows(self, rows: pd.DataFrame, params: Any, *, role: str) -> None:
        super().check_rows(rows, params, role=role)
        values = pd.to_numeric(rows[params.label], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(dtype=float))
        if bad.any():
            raise ValueError(
                f"Label column {params.label!r} of the {role} rows must be numeric for task "
                f"regression; {int(bad.sum())} values are not, e.g. "
                f"{rows[params.label][bad].head(5).tolist()}"
            )

    def labels(self, rows: pd.DataFrame, params: Any, context: Mapping[str, Any]) -> np.ndarray:
        return rows[params.label].to_numpy(dtype=float)

    def evaluate(self, rows: pd.DataFrame, predictions: Any, params: Any) -> dict[str, float]:
        from modelworks.training import regression_metrics

        return regression_metrics(rows[params.label].to_numpy(dtype=float), predictions)

    def evidence(
        self, name: str, fitted: Any, rows: pd.DataFrame, predictions: Any, params: Any
    ) -> dict[str, Any]:
        from modelworks.training import plots

        y = rows[params.label].to_numpy(dtype=float)
        return {
            "plots/predicted_vs_actual.png": plots.predicted_vs_actual_figure(
                y, predictions, label=name
            ),
            "plots/residuals.png": plots.residuals_figure(y, predictions, label=name),
            "plots/feature_importance.png": plots.feature_importance_figure(
                fitted.feature_importance()
            ),
        }

    def subset_metric(self, name: str, labels: np.ndarray, predictions: np.ndarray) -> Any:
        from modelworks.training.metrics import regression_subset_metric

        return regression_subset_metric(name, labels.astype(float), predictions)

    def live_losses(
        self, rows: pd.DataFrame, predictions: Any, params: Any, *, scale: float | None = None
    ) -> np.ndarray | None:
        """The squared error of each row in units of ``scale``, capped at 1."""
        if scale is None:
            raise ValueError(
                "a regression's live test needs registry.shadow.live_test.loss_scale: the "
                f"error in {params.label!r} that counts as a full miss"
            )
        y = rows[params.label].to_numpy(dtype=float)
        error = (np.asarray(predictions, dtype=float).ravel() - y) / scale
        return np.minimum(error**2, 1.0)

    def monitoring_note(self) -> str | None:
        return (
            "Performance is not estimated before labels arrive: a regression's predictions "
            "carry no calibrated uncertainty to estimate its error from. Prediction drift and "
            "realised RMSE, MAE and R² once labels arrive are what this report shows."
        )

    def score_range(self) -> tuple[float, float] | None:
        return None
