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


def kfolds(n_rows: int, *, n_splits: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled k-fold over ``n_rows`` rows: (train, valid) positional index arrays per fold.

    For targets that cannot be stratified on (regression); every row is validated exactly once.
    """
    if isinstance(n_rows, bool) or not isinstance(n_rows, int | np.integer):
        raise ValueError(f"n_rows must be an int, got {n_rows!r}")
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2, got {n_splits}")
    if n_rows < n_splits:
        raise ValueError(
            f"k-fold needs at least n_splits={n_splits} rows to give every fold a row; "
            f"got n_rows={n_rows}"
        )
    from sklearn.model_selection import KFold  # slow to import; only needed here

    splitter = KFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros((int(n_rows), 1))))


def early_stopping_split(
    y: Any, *, fraction: float, seed: int, stratify: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(fit, stop): positional indices into ``y``, ``stop`` holding about ``fraction`` of rows.

    Carves the rows a booster early-stops on out of a fold's training part, so the fold's
    validation rows stay unseen. ``stop`` gets ``floor(fraction * len(y))`` rows, at least one;
    with ``stratify`` each class keeps its share in both parts (every class needs at least two
    rows). Both arrays are sorted, disjoint, cover every row and are the same for a seed.
    """
    labels = np.asarray(y)
    if labels.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {labels.shape}")
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    n_rows = len(labels)
    n_stop = max(1, int(fraction * n_rows))
    if n_rows - n_stop < 1 or n_stop < 1:
        raise ValueError(
            f"cannot carve fraction={fraction} of {n_rows} rows into two non-empty parts"
        )
    stratify_on = None
    if stratify:
        classes, counts = np.unique(labels, return_counts=True)
        class_counts = {cls.item(): int(n) for cls, n in zip(classes, counts, strict=True)}
        if counts.min() < 2:
            raise ValueError(
                "a stratified early-stopping split needs at least 2 rows of every class; "
                f"class counts: {class_counts}"
            )
        if min(n_stop, n_rows - n_stop) < len(classes):
            raise ValueError(
                f"a stratified split of {n_rows} rows with fraction={fraction} gives "
                f"{n_stop} early-stopping and {n_rows - n_stop} fit rows, fewer than the "
                f"{len(classes)} classes; class counts: {class_counts}"
            )
        stratify_on = labels
    from sklearn.model_selection import train_test_split  # slow to import; only needed here

    fit, stop = train_test_split(
        np.arange(n_rows), test_size=n_stop, random_state=seed, stratify=stratify_on
    )
    return np.sort(fit), np.sort(stop)
