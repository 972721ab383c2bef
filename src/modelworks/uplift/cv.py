"""Cross-validation of meta-learners on uplift metrics, with folds that always hold both arms."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelworks.training.features import FeatureSpec
from modelworks.training.metrics import summarise_folds
from modelworks.training.splits import stratified_folds
from modelworks.uplift.learners import UpliftCandidateParams, UpliftData, fit_uplift_model
from modelworks.uplift.metrics import uplift_metrics

_CELLS = frozenset({"control/0", "control/1", "treated/0", "treated/1"})


@dataclass(frozen=True)
class UpliftCVResult:
    """Per-fold metrics, their summary, the refit budget and out-of-fold predictions."""

    folds: list[dict[str, float]]
    """Per fold: ``uplift_metrics`` on its validation rows plus ``rounds_<model>``."""
    summary: dict[str, float]
    """``<metric>_mean`` and ``<metric>_std`` over folds."""
    rounds: dict[str, int]
    """Mean early-stopped rounds per classifier: ``n_rounds`` for the refit on all rows."""
    out_of_fold: np.ndarray
    """Predicted uplift of every row by the model that did not train on it."""


def uplift_folds(
    treatment: np.ndarray, outcome: np.ndarray, *, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold stratified on treatment x outcome: (train, valid) positions per fold.

    Every validation part holds both arms, and every training part all four treatment x
    outcome cells (a T-learner's classifiers need both outcomes per arm); this is checked, not
    assumed. Too few rows in a cell for ``n_splits`` folds raises with the cell counts.
    """
    arm = np.where(np.asarray(treatment) == 1, "treated", "control")
    cells = np.char.add(arm, np.where(np.asarray(outcome) == 1, "/1", "/0"))
    folds = stratified_folds(cells, n_splits=n_splits, seed=seed)
    for fold, (fit_rows, valid_rows) in enumerate(folds):
        lacking = sorted(_CELLS - set(np.unique(cells[fit_rows])))
        if lacking:
            raise ValueError(f"fold {fold}: the training rows lack the cells {lacking}")
        arms = sorted(set(np.unique(arm[valid_rows])))
        if arms != ["control", "treated"]:
            raise ValueError(f"fold {fold}: the validation rows hold only {arms}")
    return folds


def cross_validate_uplift(
    data: UpliftData,
    *,
    features: FeatureSpec,
    candidate: UpliftCandidateParams,
    n_splits: int = 5,
    seed: int = 42,
    fold_scope: Callable[[int], AbstractContextManager[Any]] | None = None,
    on_fold: Callable[[int, UpliftData, dict[str, float]], None] | None = None,
) -> UpliftCVResult:
    """K-fold CV of ``candidate``: early stopping on each validation fold, uplift metrics on it.

    ``fold_scope(fold)`` is entered around each fold's fit and evaluation (a tracking run, say)
    and ``on_fold(fold, valid, metrics)`` called inside it, so a caller can record each fold
    where it belongs without this module knowing how.
    """
    folds, rounds = [], []
    out_of_fold = np.full(len(data), np.nan)
    splits = uplift_folds(data.treatment, data.outcome, n_splits=n_splits, seed=seed)
    for fold, (fit_rows, valid_rows) in enumerate(splits):
        with fold_scope(fold) if fold_scope is not None else nullcontext():
            valid = data.take(valid_rows)
            model = fit_uplift_model(
                data.take(fit_rows),
                features=features,
                candidate=candidate,
                seed=seed,
                valid=valid,
            )
            predicted = model.predict_uplift(valid.X)
            out_of_fold[valid_rows] = predicted
            metrics = uplift_metrics(valid.outcome, valid.treatment, predicted)
            metrics.update(
                {f"rounds_{name}": float(n) for name, n in model.best_iterations.items()}
            )
            if on_fold is not None:
                on_fold(fold, valid, metrics)
        folds.append(metrics)
        rounds.append(model.best_iterations)
    mean_rounds = {
        name: max(1, round(float(np.mean([r[name] for r in rounds])))) for name in rounds[0]
    }
    return UpliftCVResult(
        folds=folds, summary=summarise_folds(folds), rounds=mean_rounds, out_of_fold=out_of_fold
    )
