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

from modelworks.compute import threads_for_fit
from modelworks.training.adapters.base import AdapterBase, CandidateParams, FitData, FittedBase
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


class LightGBMAdapter(AdapterBase["LightGBMModel"]):
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

    def _train(
        self, data: FitData, *, features: FeatureSpec, candidate: CandidateParams, seed: int
    ) -> LightGBMModel:
        """Early-stop on ``data``'s validation set within max_rounds, or train its n_rounds."""
        import lightgbm

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
            params["num_threads"] = threads_for_fit(_usable_cores())
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
            categories=categories,
            best_iteration=best_iteration,
            **self._trained(data, features, params),
        )

    def load(self, directory: Path) -> LightGBMModel:
        """Read back what ``LightGBMModel.save`` wrote."""
        import lightgbm

        metadata, saved = self._saved(directory)
        booster = lightgbm.Booster(model_file=str(Path(directory) / MODEL_FILE))
        return LightGBMModel(
            booster,
            categories=metadata["categories"],
            best_iteration=int(metadata["best_iteration"]),
            **saved,
        )


class LightGBMModel(FittedBase["lightgbm.Booster"]):
    """A trained LightGBM model that predicts with its best iteration; ``native`` is the
    ``lightgbm.Booster``."""

    adapter = LightGBMAdapter.name
    model_file = MODEL_FILE

    def __init__(
        self, booster: lightgbm.Booster, *, categories: dict[str, list[str]], **arguments: Any
    ) -> None:
        """``categories``: each categorical column's training categories; ``arguments``:
        ``FittedBase``'s."""
        super().__init__(booster, **arguments)
        self.categories = categories

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
            self._native.predict(matrix, num_iteration=self.best_iteration), dtype=float
        )

    def _importance(self) -> np.ndarray:
        """Total split gain per feature over the kept rounds."""
        return np.asarray(
            self._native.feature_importance(importance_type="gain", iteration=self.best_iteration)
        )

    def _save_native(self, path: Path) -> None:
        """Only the kept rounds."""
        self._native.save_model(str(path), num_iteration=self.best_iteration)

    def _metadata(self) -> dict[str, Any]:
        import lightgbm

        return {"library_version": lightgbm.__version__, "categories": self.categories}


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
