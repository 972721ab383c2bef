"""Train/holdout and cross-validation splits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def out_of_time_split(
    frame: pd.DataFrame, *, time_column: str, holdout_days: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` into (train, holdout) by time, holding out the most recent rows.

    With ``cutoff = max(time) - holdout_days days``, the holdout is every row with
    ``time > cutoff`` and training is every row with ``time <= cutoff``: a row exactly
    ``holdout_days`` before the latest timestamp is training data. Both parts keep the
    original index and row order. Raises ValueError if either part would be empty (an empty
    frame, or every row within ``holdout_days`` of the latest one).
    """
    if holdout_days < 1:
        raise ValueError(f"holdout_days must be at least 1, got {holdout_days}")
    if time_column not in frame.columns:
        raise ValueError(
            f"time column {time_column!r} not in frame; columns: {list(frame.columns)}"
        )
    times = frame[time_column]
    if not pd.api.types.is_datetime64_any_dtype(times):
        raise ValueError(
            f"time column {time_column!r} must have a datetime dtype, got {times.dtype}; "
            "parse it (pd.to_datetime) where the data is loaded"
        )
    if times.isna().any():
        raise ValueError(
            f"time column {time_column!r} has {int(times.isna().sum())} missing values; "
            "rows without a time cannot be placed on either side of the split"
        )
    if frame.empty:
        raise ValueError("cannot split an empty frame")
    cutoff = times.max() - pd.Timedelta(days=holdout_days)
    in_holdout = times > cutoff
    train, holdout = frame.loc[~in_holdout], frame.loc[in_holdout]
    if train.empty:
        raise ValueError(
            f"no training rows: every {time_column} is after the cutoff {cutoff} "
            f"(latest {times.max()} minus holdout_days={holdout_days}); shorten the holdout"
        )
    return train, holdout


def stratified_folds(y: Any, *, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled stratified k-fold: (train, valid) positional index arrays, one pair per fold."""
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {labels.shape}")
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    classes, counts = np.unique(labels, return_counts=True)
    class_counts = {cls.item(): int(n) for cls, n in zip(classes, counts, strict=True)}
    if len(classes) < 2:
        raise ValueError(
            f"stratified folds need at least two classes; class counts: {class_counts}"
        )
    if counts.min() < n_splits:
        raise ValueError(
            f"every class needs at least n_splits={n_splits} members for stratified folds; "
            f"class counts: {class_counts}"
        )
    from sklearn.model_selection import StratifiedKFold  # slow to import; only needed here

    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(labels)), labels))
