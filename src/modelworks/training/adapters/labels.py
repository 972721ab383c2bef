"""The checks every adapter's ``fit`` starts with: arguments, labels and weights as each objective
accepts them, with errors naming the fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from modelworks.training.features import FeatureSpec

Objective = Literal["binary", "multiclass", "regression"]
"""What a model learns: the probability of class 1, a probability per class, or a value."""

OBJECTIVES: tuple[Objective, ...] = get_args(Objective)


@dataclass(frozen=True)
class FitData:
    """Training inputs after validation: features selected, labels checked for the objective."""

    X_train: pd.DataFrame
    y_train: np.ndarray
    """binary / multiclass: int64 class codes; regression: float64 targets."""
    X_valid: pd.DataFrame | None
    y_valid: np.ndarray | None
    n_rounds: int | None
    """Exact rounds to train when there is no validation set; None means early stopping."""
    objective: Objective = "binary"
    n_classes: int | None = 2
    """2 for binary, k for multiclass, None for regression."""
    sample_weight: np.ndarray | None = None
    """float64 weight per training row, or None for unweighted."""


def prepare_fit(
    X_train: pd.DataFrame,
    y_train: Any,
    *,
    features: FeatureSpec,
    X_valid: pd.DataFrame | None = None,
    y_valid: Any | None = None,
    n_rounds: int | None = None,
    objective: Objective = "binary",
    n_classes: int | None = None,
    sample_weight: Any | None = None,
) -> FitData:
    """Check the arguments every adapter's ``fit`` receives, with errors that say what to change."""
    classes = check_objective(objective, n_classes)
    if (X_valid is None) != (y_valid is None):
        raise ValueError("pass both X_valid and y_valid for early stopping, or neither")
    has_valid = X_valid is not None
    if has_valid and n_rounds is not None:
        raise ValueError(
            "n_rounds is for refitting without a validation set; with X_valid/y_valid "
            "the number of rounds comes from early stopping (CandidateParams.max_rounds)"
        )
    if not has_valid and n_rounds is None:
        raise ValueError("without a validation set to early-stop on, pass n_rounds")
    if n_rounds is not None and n_rounds < 1:
        raise ValueError(f"n_rounds must be at least 1, got {n_rounds}")

    train = features.select(X_train)
    labels = objective_labels(y_train, objective, classes, n_rows=len(train), name="y_train")
    if objective == "binary" and len(np.unique(labels)) < 2:
        raise ValueError("y_train must contain both classes (0 and 1)")
    if objective == "multiclass":
        assert classes is not None
        absent = np.flatnonzero(np.bincount(labels, minlength=classes) == 0).tolist()
        if absent:
            raise ValueError(
                f"y_train has no rows of class codes {absent} (n_classes={classes}); "
                "every class needs training rows"
            )
    weight = None
    if sample_weight is not None:
        weight = check_sample_weight(sample_weight, n_rows=len(train))
    valid = valid_labels = None
    if X_valid is not None:
        valid = features.select(X_valid)
        valid_labels = objective_labels(
            y_valid, objective, classes, n_rows=len(valid), name="y_valid"
        )
    return FitData(train, labels, valid, valid_labels, n_rounds, objective, classes, weight)


def check_objective(objective: str, n_classes: int | None) -> int | None:
    """The model's class count for ``objective`` (2, n_classes or None), or a ValueError."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {list(OBJECTIVES)}, got {objective!r}")
    if n_classes is not None:
        if isinstance(n_classes, bool) or not isinstance(n_classes, int | np.integer):
            raise ValueError(f"n_classes must be an int, got {n_classes!r}")
        n_classes = int(n_classes)
    if objective == "binary":
        if n_classes not in (None, 2):
            raise ValueError(
                f"objective='binary' has 2 classes, got n_classes={n_classes}; "
                "use objective='multiclass' for more"
            )
        return 2
    if objective == "multiclass":
        if n_classes is None:
            raise ValueError("objective='multiclass' needs n_classes (the number of class codes)")
        if n_classes < 2:
            raise ValueError(f"n_classes must be at least 2 for multiclass, got {n_classes}")
        return n_classes
    if n_classes is not None:
        raise ValueError(f"n_classes is for classification; objective='regression' got {n_classes}")
    return None


def objective_labels(
    y: Any, objective: Objective, n_classes: int | None, *, n_rows: int, name: str
) -> np.ndarray:
    """``y`` checked for ``objective``: 0/1 or class codes as int64, regression targets as float."""
    if objective == "binary":
        return binary_labels(y, n_rows=n_rows, name=name)
    if objective == "multiclass":
        assert n_classes is not None
        return class_codes(y, n_classes=n_classes, n_rows=n_rows, name=name)
    return regression_targets(y, n_rows=n_rows, name=name)


def _one_dimensional(y: Any, *, n_rows: int, name: str) -> np.ndarray:
    values = np.asarray(y)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {values.shape}")
    if len(values) != n_rows:
        raise ValueError(f"{name} has {len(values)} labels for {n_rows} feature rows")
    return values


def binary_labels(y: Any, *, n_rows: int, name: str) -> np.ndarray:
    """``y`` as a 1-D int array of 0/1, checked against the number of feature rows."""
    values = _one_dimensional(y, n_rows=n_rows, name=name)
    if pd.isna(values).any():
        raise ValueError(f"{name} has missing labels")
    distinct = {v.item() if isinstance(v, np.generic) else v for v in pd.unique(values)}
    unexpected = sorted(map(repr, distinct - {0, 1}))
    if unexpected:
        raise ValueError(
            f"{name} must hold binary labels 0/1 (or booleans); found {unexpected[:5]}"
        )
    return values.astype(np.int64)


def class_codes(y: Any, *, n_classes: int, n_rows: int, name: str) -> np.ndarray:
    """``y`` as a 1-D int64 array of class codes 0..n_classes-1."""
    values = _one_dimensional(y, n_rows=n_rows, name=name)
    missing = int(pd.isna(values).sum())
    if missing:
        raise ValueError(f"{name} has {missing} missing labels")
    if values.dtype == object:
        values = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy()
    if values.dtype.kind not in "biuf":
        raise ValueError(
            f"{name} must hold int class codes 0..{n_classes - 1}, got dtype {values.dtype}"
        )
    numbers = values.astype(float)
    bad = ~np.isfinite(numbers) | (numbers != np.round(numbers))
    bad |= (numbers < 0) | (numbers > n_classes - 1)
    if bad.any():
        found = sorted({repr(v.item() if isinstance(v, np.generic) else v) for v in values[bad]})
        raise ValueError(
            f"{name} must hold int class codes 0..{n_classes - 1} (n_classes={n_classes}); "
            f"found {int(bad.sum())} outside that range, e.g. {found[:5]}"
        )
    return numbers.astype(np.int64)


def regression_targets(y: Any, *, n_rows: int, name: str) -> np.ndarray:
    """``y`` as a 1-D float64 array of finite targets."""
    values = _one_dimensional(y, n_rows=n_rows, name=name)
    try:
        numbers = pd.to_numeric(pd.Series(values), errors="raise").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must hold numbers for regression: {exc}") from None
    bad = int((~np.isfinite(numbers)).sum())
    if bad:
        raise ValueError(
            f"{name} has {bad} NaN or infinite values; regression needs finite targets"
        )
    return numbers


def check_sample_weight(sample_weight: Any, *, n_rows: int) -> np.ndarray:
    """One non-negative finite float64 weight per training row, not all zero."""
    try:
        weight = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"sample_weight must hold numbers: {exc}") from None
    if weight.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {weight.shape}")
    if len(weight) != n_rows:
        raise ValueError(f"sample_weight has {len(weight)} values for {n_rows} training rows")
    not_finite = int((~np.isfinite(weight)).sum())
    if not_finite:
        raise ValueError(f"sample_weight has {not_finite} NaN or infinite values")
    negative = int((weight < 0).sum())
    if negative:
        raise ValueError(f"sample_weight has {negative} negative values; weights must be >= 0")
    if not weight.any():
        raise ValueError("sample_weight is zero for every training row")
    return weight
