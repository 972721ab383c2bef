"""What binary, multiclass and regression share: one label column, feature rows, a model
library behind ``ModelAdapter`` that takes its objective from the task, and a pyfunc that reads
its own features from the online store."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from modelworks.tasks.base import Fit, Serving, Task
from modelworks.training import get_adapter
from modelworks.training.adapters.base import Objective

_SHOWN = 5


class TabularTask(Task):
    """A supervised task on feature rows with one label column."""

    objective: ClassVar[Objective]
    stratified: ClassVar[bool] = True

    # --- rows -------------------------------------------------------------------------------

    def check_rows(self, rows: pd.DataFrame, params: Any, *, role: str) -> None:
        if rows.empty:
            raise ValueError(f"The {role} rows are empty: there is nothing to train or judge on")
        if params.label not in rows.columns:
            raise ValueError(
                f"The {role} rows have no label column {params.label!r}; "
                f"columns: {list(rows.columns)[:20]}"
            )
        missing = rows[params.label].isna()
        if missing.any():
            raise ValueError(
                f"The {role} rows have {int(missing.sum())} missing values in label column "
                f"{params.label!r}, e.g. at rows {rows.index[missing][:_SHOWN].tolist()}"
            )

    def labels(self, rows: pd.DataFrame, params: Any, context: Mapping[str, Any]) -> np.ndarray:
        """The label column as the adapter reads it."""
        return rows[params.label].to_numpy()

    def folds(self, rows: pd.DataFrame, params: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        from modelworks.training import kfolds, stratified_folds

        if self.stratified:
            return stratified_folds(
                _strata(rows, params), n_splits=params.n_splits, seed=params.seed
            )
        return kfolds(len(rows), n_splits=params.n_splits, seed=params.seed)

    def stopping_split(self, rows: pd.DataFrame, params: Any) -> tuple[np.ndarray, np.ndarray]:
        from modelworks.training import early_stopping_split

        return early_stopping_split(
            _strata(rows, params) if self.stratified else rows[params.label].to_numpy(),
            fraction=params.early_stopping_fraction,
            seed=params.seed,
            stratify=self.stratified,
        )

    # --- candidates -------------------------------------------------------------------------

    def sample_weight(
        self, y: np.ndarray, params: Any, context: Mapping[str, Any]
    ) -> np.ndarray | None:
        """Row weights from ``class_weight`` (None: unweighted)."""
        return None

    def n_classes(self, context: Mapping[str, Any]) -> int | None:
        return None

    def fit(self, job: Fit) -> Any:
        y = self.labels(job.rows, job.params, job.context)
        return get_adapter(job.candidate.adapter).fit(
            job.rows,
            y,
            features=job.params.features,
            candidate=job.candidate,
            seed=job.params.seed,
            objective=self.objective,
            n_classes=self.n_classes(job.context),
            sample_weight=self._weights(job, y),
            X_valid=job.valid,
            y_valid=None if job.valid is None else self.labels(job.valid, job.params, job.context),
            n_rounds=job.n_rounds,
        )

    def _weights(self, job: Fit, y: np.ndarray) -> np.ndarray | None:
        """Class weights times recency weights, either of which may be off."""
        from modelworks.training.recency import recency_weights

        by_class = self.sample_weight(y, job.params, job.context)
        recency = getattr(job.params, "recency", None)
        by_age = recency_weights(job.rows[job.params.time_column], recency)
        if by_age is None:
            return by_class
        return by_age if by_class is None else by_class * by_age

    def rounds(self, fitted: Any) -> int:
        return int(fitted.best_iteration)

    def predict(self, fitted: Any, rows: pd.DataFrame, context: Mapping[str, Any]) -> Any:
        return np.asarray(fitted.predict(rows))

    def log_model(self, fitted: Any, example: pd.DataFrame, job: Fit, serving: Serving) -> str:
        from modelworks.registry import tracking

        return tracking.log_probability_model(
            fitted, example, serving={**(serving or {}), **job.context} or None
        )

    # --- registry ---------------------------------------------------------------------------

    def evaluator(self, evidence: Mapping[str, Any]) -> Any:
        from modelworks.tasks.evaluator import TabularEvaluator

        return TabularEvaluator(self, evidence)

    def subset_metric(self, name: str, labels: np.ndarray, predictions: np.ndarray) -> Any:
        """``metric(indices)`` on resampled rows, for the gate's paired bootstrap."""
        raise NotImplementedError


def _strata(rows: pd.DataFrame, params: Any) -> np.ndarray:
    """The label as integer codes: stratification needs only which rows share a class."""
    codes, _ = pd.factorize(rows[params.label], sort=True)
    return codes
