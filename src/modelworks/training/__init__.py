"""Use-case-agnostic training pieces: model adapters, metrics, splits and evaluation plots.

Nothing here talks to MLflow: functions return models, numbers and figures, and the caller
logs them. CatBoost and LightGBM are imported only when a model is trained or loaded.
"""

from modelworks.training.adapters import (
    METADATA_FILE,
    CandidateParams,
    FittedModel,
    ModelAdapter,
    get_adapter,
    load_fitted,
    register_adapter,
    registered_adapters,
)
from modelworks.training.features import FeatureSpec
from modelworks.training.metrics import binary_classification_metrics, summarise_folds
from modelworks.training.plots import (
    calibration_figure,
    feature_importance_figure,
    precision_recall_figure,
    roc_curve_figure,
)
from modelworks.training.splits import out_of_time_split, stratified_folds

__all__ = [
    "METADATA_FILE",
    "CandidateParams",
    "FeatureSpec",
    "FittedModel",
    "ModelAdapter",
    "binary_classification_metrics",
    "calibration_figure",
    "feature_importance_figure",
    "get_adapter",
    "load_fitted",
    "out_of_time_split",
    "precision_recall_figure",
    "register_adapter",
    "registered_adapters",
    "roc_curve_figure",
    "stratified_folds",
    "summarise_folds",
]
