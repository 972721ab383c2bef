"""Nodes of a declared use case: entity rows and feature tables from the validated raw tables.

Every function is driven by the ``declared:`` block (``DeclaredSpec``) and a name in it; the
pipeline binds the name, Kedro passes the block as ``params:declared``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from modelworks.declared.schema import Aggregation, CalendarPart, DeclaredSpec
from modelworks.features import EVENT_TIMESTAMP

STATIC_SINCE = pd.Timestamp("1970-01-01", tz="UTC")
"""When static attributes became known: before any entity row, so every row sees them."""


def take_source_table(source: pd.DataFrame) -> pd.DataFrame:
    """The source table as read, to be written as the use case's raw table (DVC tracks it)."""
    return source


def _calendar(stamps: pd.Series, parts: list[CalendarPart], timezone: str) -> pd.DataFrame:
    local = pd.to_datetime(stamps, utc=True).dt.tz_convert(timezone).dt
    values = {
        "hour": local.hour,
        "day_of_week": local.dayofweek,
        "day_of_month": local.day,
        "month": local.month,
        "day_of_year": local.dayofyear,
    }
    return pd.DataFrame({part: values[part].astype(np.int64) for part in parts}, index=stamps.index)


def build_entity_rows(
    table: pd.DataFrame, spec: DeclaredSpec
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(training rows with labels, the scoring batch without them, the batch's labels).

    Rows without a label are no entity rows. The sample is drawn from the rows in a fixed
    order, so the same data and seed give the same rows; the scoring batch is the last
    ``scoring_days`` before the newest timestamp, held back from training.
    """
    rows_spec = spec.entity_rows
    columns = spec.entity_columns(with_calendar=False)
    rows = table.loc[table[rows_spec.label].notna(), [*columns, rows_spec.label]]
    rows = rows.sort_values([rows_spec.timestamp, *rows_spec.keys], kind="stable")
    if rows_spec.sample is not None:
        rows = rows.sample(frac=rows_spec.sample.fraction, random_state=rows_spec.sample.seed)
        rows = rows.sort_values([rows_spec.timestamp, *rows_spec.keys], kind="stable")
    rows = rows.reset_index(drop=True)
    if rows_spec.calendar is not None:
        calendar = rows_spec.calendar
        rows = rows.join(_calendar(rows[rows_spec.timestamp], calendar.parts, calendar.timezone))
    newest = rows[rows_spec.timestamp].max()
    in_batch = rows[rows_spec.timestamp] > newest - pd.Timedelta(days=rows_spec.scoring_days)
    labelled = rows.loc[~in_batch].reset_index(drop=True)
    batch = rows.loc[in_batch].reset_index(drop=True)
    ids = [*rows_spec.keys, rows_spec.timestamp]
    return labelled, batch.drop(columns=[rows_spec.label]), batch[[*ids, rows_spec.label]]


def build_feature_table(table: pd.DataFrame, spec: DeclaredSpec, *, view: str) -> pd.DataFrame:
    """The parquet table Feast reads for ``view``: entity key, features, ``event_timestamp``."""
    declared = spec.feature_views[view]
    keyed = table.loc[table[declared.entity].notna()]
    if declared.aggregations:
        assert declared.timestamp is not None  # guaranteed by FeatureView
        frame = trailing_aggregates(
            keyed,
            entity=declared.entity,
            timestamp=declared.timestamp,
            aggregations=declared.aggregations,
        )
        return frame.rename(
            columns={
                c: f"{declared.prefix}{c}"
                for c in frame.columns
                if c not in (declared.entity, EVENT_TIMESTAMP)
            }
        )
    renamed = {column: name for name, column in declared.feature_columns.items()}
    frame = keyed[[declared.entity, *declared.features]].rename(columns=renamed)
    if declared.timestamp is None:
        # One row per key, known since before any entity row: Feast's TTL of 0 keeps it valid.
        frame = frame.drop_duplicates(declared.entity, keep="last")
        frame[EVENT_TIMESTAMP] = STATIC_SINCE
    else:
        frame[EVENT_TIMESTAMP] = keyed[declared.timestamp]
        frame = frame.drop_duplicates([declared.entity, EVENT_TIMESTAMP], keep="last")
    return frame.sort_values([EVENT_TIMESTAMP, declared.entity], kind="stable").reset_index(
        drop=True
    )


def trailing_aggregates(
    events: pd.DataFrame, *, entity: str, timestamp: str, aggregations: list[Aggregation]
) -> pd.DataFrame:
    """One row per (entity, event time) with each aggregate over the hours *before* it.

    Leak-free by construction: the window of an event at ``t`` is ``[t - w, t)``, closed on
    the left and open at ``t``, so the row stamped ``t`` holds only events strictly earlier
    than ``t``. An entity row at ``t`` (a flight, say) is itself an event at ``t``; Feast's
    point-in-time join hands it the row stamped ``t``, which excludes its own value and
    those of every event at ``t`` or later. Missing values (a cancelled flight's delay) are
    skipped; ``count`` counts the values present.
    """
    ordered = events[[entity, timestamp, *{a.column for a in aggregations}]]
    ordered = ordered.sort_values([entity, timestamp], kind="stable").reset_index(drop=True)
    grouped = ordered.groupby(entity, sort=False)
    out = ordered[[entity, timestamp]].copy()
    for aggregation in aggregations:
        for name, hours, function in aggregation.outputs:
            window = grouped.rolling(f"{hours}h", on=timestamp, closed="left")[aggregation.column]
            # groupby().rolling() returns rows in group order, which is ``ordered``'s order.
            values = getattr(window, function)().to_numpy()
            # An empty window counts (and sums) nothing: zero, not missing.
            if function in ("count", "sum"):
                values = np.nan_to_num(values, nan=0.0)
            out[name] = values.astype(np.int64) if function == "count" else values
    # Every event of an instant has the same window (it excludes the instant): keep one row.
    out = out.drop_duplicates([entity, timestamp], keep="first")
    return out.rename(columns={timestamp: EVENT_TIMESTAMP}).reset_index(drop=True)
