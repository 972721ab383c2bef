"""Recency: the newest training rows counting more than older ones, or alone."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def recency_weights(times: pd.Series, recency: Any) -> np.ndarray | None:
    """Each row's weight ``0.5 ** (age / half_life_days)``, its age counted back from the
    newest row; None when ``recency`` sets no half-life."""
    if recency is None or recency.half_life_days is None:
        return None
    stamps = pd.to_datetime(times, utc=True)
    age_days = (stamps.max() - stamps).dt.total_seconds().to_numpy() / 86400.0
    return np.power(0.5, age_days / recency.half_life_days)


def recent_rows(rows: pd.DataFrame, time_column: str, recency: Any) -> pd.DataFrame:
    """The rows of the last ``window_days`` before the newest one (all of them without a
    window)."""
    if recency is None or recency.window_days is None or rows.empty:
        return rows
    stamps = pd.to_datetime(rows[time_column], utc=True)
    return rows[stamps > stamps.max() - pd.Timedelta(days=recency.window_days)]
