"""Point-in-time feature tables of a recommender: a user's taste and past items, an item's demand.

Every builder stamps each row with the instant its values became known (the interaction's
time, or a midnight), so that a point-in-time lookup at any moment (a Feast retrieval) sees
exactly the interactions up to that moment. Rows of one entity that share an instant collapse
into one that includes them all, as ``features.rolling_window_features`` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from modelworks.features import WindowAggregation, rolling_window_features
from modelworks.recommenders.data import (
    DEFAULT_COLUMNS,
    InteractionColumns,
    feature_table,
    require_columns,
)


def preference_history(
    interactions: pd.DataFrame,
    items: pd.DataFrame,
    *,
    columns: InteractionColumns = DEFAULT_COLUMNS,
    numeric: Sequence[str] = (),
    categorical: Mapping[str, Sequence[str]] | None = None,
    where: pd.Series | None = None,
    prefix: str = "",
) -> pd.DataFrame:
    """Each user's taste so far, one row per (user, instant) of their interactions.

    Over the interactions up to and including each instant, among those ``where`` selects
    (a boolean series on ``interactions``' index; all by default): ``<prefix>count``, how many;
    ``<prefix><attribute>``, the mean of each ``numeric`` item attribute (for a boolean, the
    share of items that have it); ``<prefix><attribute>_<category>``, the share of each listed
    category. Means and shares are missing until the first selected interaction. Rows are
    stamped at every interaction, selected or not, so histories of several selections (clicks,
    bookings) built from the same interactions line up row for row.
    """
    require_columns(interactions, [columns.user, columns.item, columns.time], name="interactions")
    table = feature_table(items, columns.item, name="items")
    require_columns(table, [*numeric, *(categorical or {})], name="items")
    unknown = ~interactions[columns.item].isin(table.index)
    if unknown.any():
        raise ValueError(
            f"{int(unknown.sum())} interactions have items missing from the item table, e.g. "
            f"{interactions.loc[unknown, columns.item].unique()[:5].tolist()}"
        )
    ordered = interactions.sort_values([columns.user, columns.time], kind="stable")
    selected = np.ones(len(ordered), dtype=bool) if where is None else where.loc[ordered.index]
    selected = np.asarray(selected, dtype=bool)
    attributes = table.loc[ordered[columns.item]].reset_index(drop=True)
    values = {name: attributes[name].astype(float) for name in numeric}
    for name, categories in (categorical or {}).items():
        text = attributes[name].astype("string")
        for category in categories:
            values[f"{name}_{category}"] = (text == str(category)).fillna(False).astype(float)
    users = ordered[columns.user].to_numpy()
    counts = pd.Series(selected.astype(np.int64)).groupby(users).cumsum()
    out = pd.DataFrame({columns.user: users, columns.time: ordered[columns.time].to_numpy()})
    out[f"{prefix}count"] = counts.to_numpy()
    if values:
        sums = pd.DataFrame(values).mul(selected, axis=0).groupby(users).cumsum()
        means = sums.div(counts.where(counts > 0), axis=0)
        out[[f"{prefix}{name}" for name in values]] = means.to_numpy()
    return _last_of_instant(out, columns.user, columns.time)


def item_history(
    interactions: pd.DataFrame,
    *,
    columns: InteractionColumns = DEFAULT_COLUMNS,
    where: pd.Series | None = None,
    name: str = "items",
) -> pd.DataFrame:
    """Each user's distinct items so far, stamped at each selected interaction.

    ``name`` holds the items of the selected interactions (``where``, all by default) up to
    and including the row's instant, as a list in the order they first appeared: what a
    served model reads to leave out the hotels a user already booked, say.
    """
    require_columns(interactions, [columns.user, columns.item, columns.time], name="interactions")
    chosen = interactions if where is None else interactions.loc[where]
    ordered = chosen.sort_values([columns.user, columns.time], kind="stable")
    lists: list[list[object]] = []
    seen: dict[object, None] = {}
    previous = None
    for user, item in zip(ordered[columns.user], ordered[columns.item], strict=True):
        if user != previous:
            seen, previous = {}, user
        seen.setdefault(item, None)
        lists.append(list(seen))
    out = ordered[[columns.user, columns.time]].reset_index(drop=True)
    out[name] = pd.Series(lists, dtype=object)
    return _last_of_instant(out, columns.user, columns.time)


def activity_windows(
    interactions: pd.DataFrame,
    entities: pd.DataFrame,
    *,
    key: str,
    time: str,
    available_from: str,
    counts: Mapping[str, pd.Series],
    windows_days: Sequence[int],
) -> pd.DataFrame:
    """Trailing-window counts per entity (an item's clicks, say), stamped at its interactions
    and at every midnight (UTC) from the first day of the data to the last interaction.

    ``<name>_<w>d`` counts the interactions ``counts[name]`` selects (a boolean series on
    ``interactions``' index) in the ``w`` days up to the row's instant. Without the midnight
    rows, an entity's last value would go on counting interactions that have since left the
    window; with them, a lookup is never more than a day behind its window. Every entity of
    ``entities`` (key + ``available_from``) gets midnight rows from the day it appears, so one
    without any interaction reads zeros rather than nothing.
    """
    require_columns(interactions, [key, time], name="interactions")
    require_columns(entities, [key, available_from], name="entities")
    if interactions.empty:
        raise ValueError("no interactions to count")
    events = interactions[[key, time]].copy()
    for name, selected in counts.items():
        events[name] = selected.loc[interactions.index].astype(np.int64)
    first = interactions[time].min().floor("D")
    midnights = pd.date_range(first, interactions[time].max(), freq="D")
    grid = pd.MultiIndex.from_product([entities[key], midnights], names=[key, time]).to_frame(
        index=False
    )
    # From the midnight that starts the day an entity appears: zero before it is true too.
    opens = grid[key].map(entities.set_index(key)[available_from].dt.floor("D"))
    ticks = grid.loc[grid[time] >= opens]
    ticks = ticks.assign(**dict.fromkeys(counts, 0))
    windows = rolling_window_features(
        pd.concat([events, ticks], ignore_index=True),
        entity=key,
        timestamp=time,
        windows_days=list(windows_days),
        aggregations=[WindowAggregation(name=n, column=n, function="sum") for n in counts],
    )
    names = [f"{n}_{w}d" for w in windows_days for n in counts]
    return windows.astype(dict.fromkeys(names, np.int64))


def _last_of_instant(frame: pd.DataFrame, entity: str, time: str) -> pd.DataFrame:
    """One row per (entity, instant): the last, which includes every event of that instant."""
    return frame.loc[~frame.duplicated([entity, time], keep="last")].reset_index(drop=True)
