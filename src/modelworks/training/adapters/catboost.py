"""CatBoost behind the ModelAdapter contract: native categoricals, no files written.

Objectives: ``binary`` (CatBoostClassifier, Logloss), ``multiclass`` (CatBoostClassifier,
MultiClass) and ``regression`` (CatBoostRegressor, RMSE); early stopping watches that loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelworks.compute import threads_for_fit
from modelworks.training.adapters.base import AdapterBase, CandidateParams, FitData, FittedBase
from modelworks.training.features import FeatureSpec, categorical_as_strings

if TYPE_CHECKING:
    from catboost import CatBoostClassifier, CatBoostRegressor

MODEL_FILE = "model.cbm"
MISSING_CATEGORY = "__missing__"
"""CatBoost rejects NaN in categorical columns; missing becomes a category of its own."""
_LOSS: dict[str, str] = {"binary": "Logloss", "multiclass": "MultiClass", "regression": "RMSE"}


class CatBoostAdapter(AdapterBase["CatBoostModel"]):
    """Trains CatBoost classifiers and regressors (imported on first use, not at module import)."""

    name = "catboost"
    reserved_params = frozenset(
        {
            "iterations",
            "num_boost_round",
            "n_estimators",
            "num_trees",
            "random_seed",
            "random_state",
            "loss_function",
            "objective",
            "cat_features",
            "allow_writing_files",
            "train_dir",
            "verbose",
            "verbose_eval",
            "silent",
            "logging_level",
            "early_stopping_rounds",
            "od_type",
            "od_wait",
            "use_best_model",
            "classes_count",
            "class_names",
        }
    )

    def _train(
        self, data: FitData, *, features: FeatureSpec, candidate: CandidateParams, seed: int
    ) -> CatBoostModel:
        """Early-stop on ``data``'s validation set within max_rounds, or train its n_rounds."""
        from catboost import CatBoostClassifier, CatBoostRegressor, Pool

        params: dict[str, Any] = {
            "loss_function": _LOSS[data.objective],
            "random_seed": seed,
            # CatBoost documents that thread_count changes speed, never results.
            "thread_count": threads_for_fit(-1),
            "allow_writing_files": False,
            "logging_level": "Silent",
            **candidate.params,
            "iterations": data.n_rounds if data.n_rounds is not None else candidate.max_rounds,
        }
        if data.objective == "multiclass":
            # Probability columns are the codes 0..n_classes-1, in order.
            params["classes_count"] = data.n_classes
        model = (CatBoostRegressor if data.objective == "regression" else CatBoostClassifier)(
            **params
        )
        train_pool = Pool(
            _encode(data.X_train, features),
            data.y_train,
            cat_features=features.categorical,
            weight=data.sample_weight,
        )
        if data.X_valid is None:
            model.fit(train_pool)
        else:
            valid_pool = Pool(
                _encode(data.X_valid, features), data.y_valid, cat_features=features.categorical
            )
            model.fit(
                train_pool,
                eval_set=valid_pool,
                early_stopping_rounds=candidate.early_stopping_rounds,
                use_best_model=True,
            )
        return CatBoostModel(model, **self._trained(data, features, params))

    def load(self, directory: Path) -> CatBoostModel:
        """Read back what ``CatBoostModel.save`` wrote."""
        from catboost import CatBoostClassifier, CatBoostRegressor

        _, saved = self._saved(directory)
        model = CatBoostRegressor() if saved["objective"] == "regression" else CatBoostClassifier()
        model.load_model(str(Path(directory) / MODEL_FILE), format="cbm")
        return CatBoostModel(model, **saved)


class CatBoostModel(FittedBase["CatBoostClassifier | CatBoostRegressor"]):
    """A trained CatBoost classifier (binary, multiclass) or regressor; ``native`` is the
    ``CatBoostClassifier`` / ``CatBoostRegressor``."""

    adapter = CatBoostAdapter.name
    model_file = MODEL_FILE

    def __init__(self, model: CatBoostClassifier | CatBoostRegressor, **arguments: Any) -> None:
        """``arguments``: ``FittedBase``'s, but ``best_iteration``: use_best_model shrinks the
        model to the best iteration, so its tree count is the answer."""
        super().__init__(model, best_iteration=int(model.tree_count_), **arguments)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """binary: 1-D P(class 1); multiclass: (n_rows, n_classes) probabilities; regression:
        1-D values. Extra columns ignored, any column order."""
        from catboost import FeaturesData

        numeric, labels = self.features.arrays(X)
        labels[pd.isna(labels)] = MISSING_CATEGORY
        # CatBoost's own array layout (numeric block, then categorical): no per-column pandas
        # work, and the same values the pandas Pool gives at training time (it stores float32).
        data = FeaturesData(
            num_feature_data=numeric.astype(np.float32),
            cat_feature_data=labels,
            num_feature_names=list(self.features.numeric),
            cat_feature_names=list(self.features.categorical),
        )
        if self.objective == "regression":
            return np.asarray(self._native.predict(data), dtype=float)
        proba = np.asarray(self._native.predict_proba(data), dtype=float)
        return proba[:, 1] if self.objective == "binary" else proba

    def _importance(self) -> np.ndarray:
        """CatBoost's PredictionValuesChange per feature."""
        return np.asarray(self._native.get_feature_importance())

    def _save_native(self, path: Path) -> None:
        self._native.save_model(str(path), format="cbm")

    def _metadata(self) -> dict[str, Any]:
        import catboost

        return {"library_version": catboost.__version__, "missing_category": MISSING_CATEGORY}


def _encode(selected: pd.DataFrame, features: FeatureSpec) -> pd.DataFrame:
    """Categorical columns as strings, missing mapped to ``MISSING_CATEGORY``.

    Works in place on ``selected``, the private copy ``FeatureSpec.select`` returned.
    """
    for name in features.categorical:
        selected[name] = categorical_as_strings(selected[name]).fillna(MISSING_CATEGORY)
    return selected
