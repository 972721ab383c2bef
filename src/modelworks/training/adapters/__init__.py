"""Model adapters: one per library, found by name through a registry.

The built-in adapters import their library only when they train or load, so importing this
package is cheap. A new library (e.g. torch) is one more module here plus one
``register_adapter`` call; callers keep using ``get_adapter`` / ``load_fitted``.
"""

from modelworks.training.adapters.base import (
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
from modelworks.training.adapters.catboost import CatBoostAdapter, CatBoostModel
from modelworks.training.adapters.lightgbm import LightGBMAdapter, LightGBMModel

register_adapter(CatBoostAdapter())
register_adapter(LightGBMAdapter())

__all__ = [
    "METADATA_FILE",
    "CandidateParams",
    "CatBoostAdapter",
    "CatBoostModel",
    "FittedModel",
    "LightGBMAdapter",
    "LightGBMModel",
    "ModelAdapter",
    "Objective",
    "get_adapter",
    "load_fitted",
    "register_adapter",
    "registered_adapters",
]
