"""Use-case-agnostic training pieces: model adapters, metrics, splits and evaluation plots,
for binary, multiclass and regression objectives.

Nothing here talks to MLflow: functions return models, numbers and figures, and the caller
logs them. CatBoost and LightGBM are imported only when a model is trained or loaded.
"""

from modelworks.training.adapters import (
    METADATA_FILE,
    CandidateParams,
    FittedModel,
    ModelAdapter,
    Objective,
    get_adapter,
    load_fitted,
    register_adapter,
    registered_adapters,
)
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
    "METADATA_FILE",
    "METRIC_DIRECTIONS",
    "CandidateParams",
    "FeatureSpec",
    "FittedModel",
    "ModelAdapter",
    "Objective",
    "binary_classification_metrics",
    "calibration_figure",
    "confusion_matrix_figure",
    "early_stopping_split",
    "feature_importance_figure",
    "get_adapter",
    "kfolds",
    "load_fitted",
    "multiclass_calibration_figure",
    "multiclass_metrics",
    "out_of_time_split",
    "precision_recall_figure",
    "predicted_vs_actual_figure",
    "register_adapter",
    "registered_adapters",
    "regression_metrics",
    "regression_subset_metric",
    "residuals_figure",
    "roc_curve_figure",
    "stratified_folds",
    "subset_metric",
    "summarise_folds",
]
