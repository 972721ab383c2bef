"""CatBoost behind the ModelAdapter contract: native categoricals, no files written.

Objectives: ``binary`` (CatBoostClassifier, Logloss), ``multiclass`` (CatBoostClassifier,
MultiClass) and ``regression`` (CatBoostRegressor, RMSE); early stopping watches that loss.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from modelworks.training.adapters.base import (
    CandidateParams,
    Objective,
    check_objective,
    normalised_importance,
    objective_metadata,
    prepare_fit,
    probabilities,
    read_metadata,
    saved_objective,
    write_metadata,
)
from modelworks.training.features import FeatureSpec, categorical_as_strings

if TYPE_CHECKING:
    from catboost import CatBoostClassifier, CatBoostRegressor

MODEL_FILE = "model.cbm"
MISSING_CATEGORY = "__missing__"
"""CatBoost rejects NaN in categorical columns; missing becomes a category of its own."""
_LOSS: dict[str, str] = {"binary": "Logloss", "multiclass": "MultiClass", "regression": "RMSE"}


class CatBoostAdapter:
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

    def fit(
        self,
        X_train: pd.DataFrame,
        y_train: Any,
        *,
        features: FeatureSpec,
        candidate: CandidateParams,
        seed: int,
        objective: Objective = "binary",
        n_classes: int | None = None,
        sample_weight: np.ndarray | None = None,
        X_valid: pd.DataFrame | None = None,
        y_valid: Any | None = None,
        n_rounds: int | None = None,
    ) -> CatBoostModel:
        """Early-stop on (X_valid, y_valid) within max_rounds, or without them train n_rounds."""
        from catboost import CatBoostClassifier, CatBoostRegressor, Pool

        data = prepare_fit(
            X_train,
            y_train,
            features=features,
            X_valid=X_valid,
            y_valid=y_valid,
            n_rounds=n_rounds,
            objective=objective,
            n_classes=n_classes,
            sample_weight=sample_weight,
        )
        params: dict[str, Any] = {
            "loss_function": _LOSS[data.objective],
            "random_seed": seed,
            # CatBoost documents that thread_count changes speed, never results.
            "thread_count": -1,
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
        # use_best_model shrinks the model to the best iteration, so its tree count is the answer.
        return CatBoostModel(
            model,
            features=features,
            params=params,
            objective=data.objective,
            n_classes=data.n_classes,
        )

    def load(self, directory: Path) -> CatBoostModel:
        """Read back what ``CatBoostModel.save`` wrote."""
        from catboost import CatBoostClassifier, CatBoostRegressor

        metadata = read_metadata(directory)
        if metadata["adapter"] != self.name:
            raise ValueError(f"{directory} holds a {metadata['adapter']} model, not {self.name}")
        objective, n_classes = saved_objective(metadata)
        model = CatBoostRegressor() if objective == "regression" else CatBoostClassifier()
        model.load_model(str(Path(directory) / MODEL_FILE), format="cbm")
        return CatBoostModel(
            model,
            features=FeatureSpec.model_validate(metadata["features"]),
            params=metadata["params"],
            objective=objective,
            n_classes=n_classes,
        )


class CatBoostModel:
    """A trained CatBoost classifier (binary, multiclass) or regressor."""

    adapter = CatBoostAdapter.name

    def __init__(
        self,
        model: CatBoostClassifier | CatBoostRegressor,
        *,
        features: FeatureSpec,
        params: dict[str, Any],
        objective: Objective = "binary",
        n_classes: int | None = None,
    ) -> None:
        self._model = model
        self.features = features
        self.params = params
        self.objective: Objective = objective
        self.n_classes = check_objective(objective, n_classes)
        self.best_iteration = int(model.tree_count_)

    @property
    def native(self) -> CatBoostClassifier | CatBoostRegressor:
        """The underlying ``CatBoostClassifier`` / ``CatBoostRegressor``, for library tooling."""
        return self._model

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
            return np.asarray(self._model.predict(data), dtype=float)
        proba = np.asarray(self._model.predict_proba(data), dtype=float)
        return proba[:, 1] if self.objective == "binary" else proba

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """binary: 1-D P(class 1); multiclass: (n_rows, n_classes); regression: TypeError."""
        return probabilities(self, X)

    def feature_importance(self) -> pd.Series:
        """CatBoost's PredictionValuesChange per feature, as shares of the total."""
        return normalised_importance(self._model.get_feature_importance(), self.features)

    def save(self, directory: Path) -> None:
        """``model.cbm`` plus the metadata json."""
        import catboost

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._model.save_model(str(directory / MODEL_FILE), format="cbm")
        write_metadata(
            directory,
            {
                "adapter": self.adapter,
                "library_version": catboost.__version__,
                "model_file": MODEL_FILE,
                "features": self.features.model_dump(),
                "missing_category": MISSING_CATEGORY,
                "best_iteration": self.best_iteration,
                "params": self.params,
                **objective_metadata(self.objective, self.n_classes),
            },
        )


def _encode(selected: pd.DataFrame, features: FeatureSpec) -> pd.DataFrame:
    """Categorical columns as strings, missing mapped to ``MISSING_CATEGORY``.

    Works in place on ``selected``, the private copy ``FeatureSpec.select`` returned.
    """
    for name in features.categorical:
        selected[name] = categorical_as_strings(selected[name]).fillna(MISSING_CATEGORY)
    return selected
