"""Rolling-window aggregates stamped with the time each value became known."""

from __future__ import annotations

from typing import Literal

import pandas as pd

from modelworks.params import StrictModel


class WindowAggregation(StrictModel):
    """``<name>_<w>d`` = ``function`` of ``column`` over the ``w`` days up to each event."""

    name: str
    column: str
    function: Literal["count", "sum", "mean", "max", "min"]


def rolling_window_features(
    events: pd.DataFrame,
    *,
    entity: str,
    timestamp: str,
    windows_days: list[int],
    aggregations: list[WindowAggregation],
) -> pd.DataFrame:
    """One row per (entity, event time) with trailing-window aggregates as of that instant.

    The window for an event at ``t`` is ``(t - w days, t]``: everything that happened up to and
    including ``t``. Events sharing an instant collapse into one row that includes them all,
    so a point-in-time lookup at ``t`` sees a single, complete value.
    """
    missing = {entity, timestamp, *(a.column for a in aggregations)} - set(events.columns)
    if missing:
        raise ValueError(f"rolling_window_features: events lack columns {sorted(missing)}")
    ordered = events.sort_values([entity, timestamp], kind="stable").reset_index(drop=True)
    grouped = ordered.groupby(entity, sort=False)
    out = ordered[[entity, timestamp]].copy()
    for days in windows_days:
        rolling = grouped.rolling(f"{days}D", on=timestamp, closed="right")
        for agg in aggregations:
            values = getattr(rolling[agg.column], agg.function)()
            # groupby().rolling() returns rows in group order, which equals ``ordered``'s order.
            out[f"{agg.name}_{days}d"] = values.to_numpy()
    last_of_instant = ~out.duplicated([entity, timestamp], keep="last")
    return out.loc[last_of_instant].reset_index(drop=True)
