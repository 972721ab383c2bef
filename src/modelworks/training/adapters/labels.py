"""Label and weight checks for ``fit``: what each objective accepts, with errors naming the fix."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

Objective = Literal["binary", "multiclass", "regression"]
"""What a model learns: the probability of class 1, a probability per class, or a value."""


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
