"""LightGBM behind the ModelAdapter contract: pandas categoricals fixed at training time.

Objectives: ``binary`` (binary_logloss), ``multiclass`` (softmax over ``num_class``,
multi_logloss) and ``regression`` (L2, l2); early stopping watches that metric.
"""

from __future__ import annotations

import os
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
    import lightgbm

MODEL_FILE = "model.txt"

_THREAD_ALIASES = frozenset({"num_threads", "num_thread", "nthread", "nthreads", "n_jobs"})
_LAYOUT_PARAMS = frozenset({"force_row_wise", "force_col_wise"})
_METRIC_ALIASES = frozenset({"metric", "metrics", "metric_types"})
_LIBRARY_OBJECTIVE: dict[str, str] = {
    "binary": "binary",
    "multiclass": "multiclass",
    "regression": "regression",
}
_EARLY_STOPPING_METRIC: dict[str, str] = {
    "binary": "binary_logloss",
    "multiclass": "multi_logloss",
    "regression": "l2",
}


class LightGBMAdapter:
    """Trains ``lightgbm.Booster`` models (imported on first use, not at module import)."""

    name = "lightgbm"
    reserved_params = frozenset(
        {
            "objective",
            "objective_type",
            "app",
            "application",
            "loss",
            "seed",
            "random_seed",
            "random_state",
            "deterministic",
            "verbose",
            "verbosity",
            "num_iterations",
            "num_iteration",
            "n_iter",
            "num_tree",
            "num_trees",
            "num_round",
            "num_rounds",
            "nrounds",
            "num_boost_round",
            "n_estimators",
            "max_iter",
            "early_stopping_round",
            "early_stopping_rounds",
            "early_stopping",
            "n_iter_no_change",
            "categorical_feature",
            "cat_feature",
            "categorical_column",
            "cat_column",
            "categorical_features",
            "num_class",
            "num_classes",
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
    ) -> LightGBMModel:
        """Early-stop on (X_valid, y_valid) within max_rounds, or without them train n_rounds."""
        import lightgbm

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
        categories = {
            name: sorted(categorical_as_strings(data.X_train[name]).dropna().unique())
            for name in features.categorical
        }
        params: dict[str, Any] = {
            "objective": _LIBRARY_OBJECTIVE[data.objective],
            "seed": seed,
            "deterministic": True,
            "verbose": -1,
        }
        if data.objective == "multiclass":
            params["num_class"] = data.n_classes
        if data.objective != "binary" and not _METRIC_ALIASES & set(candidate.params):
            # binary keeps LightGBM's default (binary_logloss), so its params stay as they were.
            params["metric"] = _EARLY_STOPPING_METRIC[data.objective]
        if not _THREAD_ALIASES & set(candidate.params):
            # With deterministic=True results still depend on the thread count; it is recorded
            # in ``params`` so a run can be reproduced exactly.
            params["num_threads"] = _usable_cores()
        if not _LAYOUT_PARAMS & set(candidate.params):
            # LightGBM's advice for deterministic=True: fix the histogram layout.
            params["force_row_wise"] = True
        params.update(candidate.params)

        train_set = lightgbm.Dataset(
            _encode(data.X_train, categories),
            label=data.y_train,
            weight=data.sample_weight,
            categorical_feature=features.categorical or "auto",
        )
        if data.X_valid is None:
            assert data.n_rounds is not None  # prepare_fit guarantees one or the other
            booster = lightgbm.train(params, train_set, num_boost_round=data.n_rounds)
            best_iteration = booster.current_iteration()
        else:
            valid_set = lightgbm.Dataset(
                _encode(data.X_valid, categories), label=data.y_valid, reference=train_set
            )
            booster = lightgbm.train(
                params,
                train_set,
                num_boost_round=candidate.max_rounds,
                valid_sets=[valid_set],
                valid_names=["valid"],
                callbacks=[lightgbm.early_stopping(candidate.early_stopping_rounds, verbose=False)],
            )
            best_iteration = booster.best_iteration or booster.current_iteration()
        return LightGBMModel(
            booster,
            features=features,
            categories=categories,
            best_iteration=best_iteration,
            params=params,
            objective=data.objective,
            n_classes=data.n_classes,
        )

    def load(self, directory: Path) -> LightGBMModel:
        """Read back what ``LightGBMModel.save`` wrote."""
        import lightgbm

        metadata = read_metadata(directory)
        if metadata["adapter"] != self.name:
            raise ValueError(f"{directory} holds a {metadata['adapter']} model, not {self.name}")
        objective, n_classes = saved_objective(metadata)
        booster = lightgbm.Booster(model_file=str(Path(directory) / MODEL_FILE))
        return LightGBMModel(
            booster,
            features=FeatureSpec.model_validate(metadata["features"]),
            categories=metadata["categories"],
            best_iteration=int(metadata["best_iteration"]),
            params=metadata["params"],
            objective=objective,
            n_classes=n_classes,
        )


class LightGBMModel:
    """A trained LightGBM model that predicts with its best iteration."""

    adapter = LightGBMAdapter.name

    def __init__(
        self,
        booster: lightgbm.Booster,
        *,
        features: FeatureSpec,
        categories: dict[str, list[str]],
        best_iteration: int,
        params: dict[str, Any],
        objective: Objective = "binary",
        n_classes: int | None = None,
    ) -> None:
        self._booster = booster
        self.features = features
        self.categories = categories
        self.best_iteration = best_iteration
        self.params = params
        self.objective: Objective = objective
        self.n_classes = check_objective(objective, n_classes)

    @property
    def native(self) -> lightgbm.Booster:
        """The underlying ``lightgbm.Booster``, for library-specific tooling."""
        return self._booster

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """binary: 1-D P(class 1); multiclass: (n_rows, n_classes) probabilities; regression:
        1-D values. Categories unseen in training count as missing."""
        numeric, labels = self.features.arrays(X)
        # The category codes pandas gave at training time (position in the training category
        # list), computed on arrays: the matrix LightGBM builds from a categorical frame.
        codes = np.column_stack(
            [
                pd.Index(self.categories[name]).get_indexer(labels[:, i]).astype(float)
                for i, name in enumerate(self.features.categorical)
            ]
            or [np.empty((len(numeric), 0))]
        )
        codes[codes < 0] = np.nan
        matrix = np.hstack([numeric, codes])
        return np.asarray(
            self._booster.predict(matrix, num_iteration=self.best_iteration), dtype=float
        )

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """binary: 1-D P(class 1); multiclass: (n_rows, n_classes); regression: TypeError."""
        return probabilities(self, X)

    def feature_importance(self) -> pd.Series:
        """Total split gain per feature over the kept rounds, as shares of the total."""
        gain = self._booster.feature_importance(
            importance_type="gain", iteration=self.best_iteration
        )
        return normalised_importance(gain, self.features)

    def save(self, directory: Path) -> None:
        """``model.txt`` (only the kept rounds) plus the metadata json with the category sets."""
        import lightgbm

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._booster.save_model(str(directory / MODEL_FILE), num_iteration=self.best_iteration)
        write_metadata(
            directory,
            {
                "adapter": self.adapter,
                "library_version": lightgbm.__version__,
                "model_file": MODEL_FILE,
                "features": self.features.model_dump(),
                "categories": self.categories,
                "best_iteration": self.best_iteration,
                "params": self.params,
                **objective_metadata(self.objective, self.n_classes),
            },
        )


def _usable_cores() -> int:
    # Cores this process may run on, not the host's: oversubscribed OpenMP threads spin.
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _encode(selected: pd.DataFrame, categories: dict[str, list[str]]) -> pd.DataFrame:
    """Categorical columns as pandas ``category`` with the training category set.

    Works in place on ``selected``, the private copy ``FeatureSpec.select`` returned. Values
    outside the training set become NaN, which LightGBM treats as missing rather than failing.
    """
    for name, known in categories.items():
        selected[name] = pd.Categorical(categorical_as_strings(selected[name]), categories=known)
    return selected
