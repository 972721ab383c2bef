"""Folds and early-stopping splits that always hold both arms of the experiment.

The lifecycle's one cross-validation loop (``modelworks.pipelines.training``) asks the uplift
task for its folds and for the part of each fold's fitting rows early stopping watches; both
come from here, stratified on treatment x outcome so that each part holds treated and control
rows, and each arm both outcomes (a T-learner fits one classifier per arm).
"""

from __future__ import annotations

import numpy as np

from modelworks.training.splits import early_stopping_split, stratified_folds

_CELLS = frozenset({"control/0", "control/1", "treated/0", "treated/1"})


def _cells(treatment: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    arm = np.where(np.asarray(treatment) == 1, "treated", "control")
    return arm, np.char.add(arm, np.where(np.asarray(outcome) == 1, "/1", "/0"))


def uplift_folds(
    treatment: np.ndarray, outcome: np.ndarray, *, n_splits: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold stratified on treatment x outcome: (train, valid) positions per fold.

    Every validation part holds both arms, and every training part all four treatment x
    outcome cells (a T-learner's classifiers need both outcomes per arm); this is checked, not
    assumed. Too few rows in a cell for ``n_splits`` folds raises with the cell counts.
    """
    arm, cells = _cells(treatment, outcome)
    folds = stratified_folds(cells, n_splits=n_splits, seed=seed)
    for fold, (fit_rows, valid_rows) in enumerate(folds):
        lacking = sorted(_CELLS - set(np.unique(cells[fit_rows])))
        if lacking:
            raise ValueError(f"fold {fold}: the training rows lack the cells {lacking}")
        arms = sorted(set(np.unique(arm[valid_rows])))
        if arms != ["control", "treated"]:
            raise ValueError(f"fold {fold}: the validation rows hold only {arms}")
    return folds


def uplift_stopping_split(
    treatment: np.ndarray, outcome: np.ndarray, *, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, stop) positions: about ``fraction`` of the rows for early stopping, stratified on
    treatment x outcome, so that each arm's classifier has rows of both outcomes on both sides.
    """
    _, cells = _cells(treatment, outcome)
    return early_stopping_split(cells, fraction=fraction, seed=seed, stratify=True)
