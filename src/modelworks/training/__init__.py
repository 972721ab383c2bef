"""Use-case-agnostic training pieces: model adapters, metrics, splits and evaluation plots,
for binary, multiclass and regression objectives.

Nothing here talks to MLflow: functions return models, numbers and figures, and the caller
logs them. CatBoost and LightGBM are imported only when a model is trained or loaded.
"""

from modelworks.training import adapters
from modelworks.training.adapters import *  # noqa: F403  (adapters.__all__, exported again below)
from modelworks.training.features import FeatureSpec
from modelworks.training.metrics import (
    METRIC_DIRECTIONS,
    binary_classification_metrics,
    multiclass_metrics,
    regression_metrics,
    regression_subset_metric,
    subset_metric,
    summarise_folds,
)
from modelworks.training.plots import (
    calibration_figure,
    confusion_matrix_figure,
    feature_importance_figure,
    multiclass_calibration_figure,
    precision_recall_figure,
    predicted_vs_actual_figure,
    residuals_figure,
    roc_curve_figure,
)
from modelworks.training.splits import (
    early_stopping_split,
    kfolds,
    out_of_time_split,
    stratified_folds,
)

__all__ = [
    *adapters.__all__,
    "METRIC_DIRECTIONS",
    "FeatureSpec",
    "binary_classification_metrics",
    "calibration_figure",
    "confusion_matrix_figure",
    "early_stopping_split",
    "feature_importance_figure",
    "kfolds",
    "multiclass_calibration_figure",
    "multiclass_metrics",
    "out_of_time_split",
    "precision_recall_figure",
    "predicted_vs_actual_figure",
    "regression_metrics",
    "regression_subset_metric",
    "residuals_figure",
    "roc_curve_figure",
    "stratified_folds",
    "subset_metric",
    "summarise_folds",
]
