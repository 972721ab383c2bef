"""A Feast offline store that joins parquet sources point in time with DuckDB's ASOF join.

modelworks' embedded default, chosen in ``feature_store.yaml`` like any custom Feast store::

    offline_store:
      type: modelworks.features.offline_store.DuckDBAsofOfflineStore

It follows Feast's point-in-time rules: each entity row gets, per feature view, the latest
source row at or before its event timestamp and no older than the view's TTL (inclusive at both
ends; a TTL of zero or none means no limit); rows with equal event timestamps are ranked by the
source's created timestamp column when it has one (rows equal on both: any one of them, as in
Feast). Every entity row comes back once, in its original order, its own columns untouched, with
nulls where nothing matched. Timestamps are compared in UTC (naive ones are read as UTC) at
DuckDB's microsecond precision.

The join runs in two passes over each source. The ASOF join only carries each source row's
key, timestamp and position in its parquet file, so its sort stays small; a second join then
fetches the feature values of the rows it picked. That keeps peak memory near the size of the
result rather than of the source. (Both passes read the files as they are then: rewrite a source
while a retrieval from it runs, and the result is undefined, as for any reader of parquet files.)

Not supported (NotImplementedError): entity rows given as SQL, retrieval by date range
without entity rows, ``filter_by_created_timestamp``, and writes (push to the offline store,
feature logging, saved datasets).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from feast.data_format import ParquetFormat
from feast.data_source import DataSource
from feast.feature_view import FeatureView
from feast.infra.offline_stores import offline_utils
from feast.infra.offline_stores.file_source import FileSource
from feast.infra.offline_stores.offline_store import (
    OfflineStore,
    RetrievalJob,
    RetrievalMetadata,
)
from feast.infra.registry.base_registry import BaseRegistry
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.repo_config import FeastConfigBaseModel, RepoConfig

STORE_TYPE: Final = "modelworks.features.offline_store.DuckDBAsofOfflineStore"

# Columns of the request table sent to DuckDB; entity columns never reach it under these names.
ROW = "__row"
EVENT_TS = "__event_ts"
# Where a row sits in a parquet source: file number and row number in one integer (a file holds
# fewer than 2**40 rows), so the join carries and matches one column instead of two.
POSITION = "(file_index::BIGINT << 40) | file_row_number"


class DuckDBAsofOfflineStoreConfig(FeastConfigBaseModel):
    """``offline_store:`` section of ``feature_store.yaml`` selecting this store."""

    type: Literal["modelworks.features.offline_store.DuckDBAsofOfflineStore"] = STORE_TYPE


@dataclass(frozen=True)
class ViewPlan:
    """What one feature view contributes to a retrieval, in source-column terms."""

    name: str
    path: str
    keys: list[tuple[str, str]]  # (source column, entity dataframe column)
    timestamp: str
    created: str | None
    ttl: timedelta | None
    features: list[tuple[str, str]]  # (source column, output column)


class DuckDBAsofRetrievalJob(RetrievalJob):
    """A lazy retrieval: ``compute`` runs when the result is asked for, each time it is."""

    def __init__(
        self,
        compute: Callable[[], pa.Table],
        *,
        full_feature_names: bool = False,
        on_demand_feature_views: list[OnDemandFeatureView] | None = None,
        metadata: RetrievalMetadata | None = None,
    ) -> None:
        self._compute = compute
        self._full_feature_names = full_feature_names
        self._on_demand_feature_views = on_demand_feature_views or []
        self._metadata = metadata

    @property
    def full_feature_names(self) -> bool:
        """Whether feature columns are named ``<view>__<feature>``."""
        return self._full_feature_names

    @property
    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        """On-demand views Feast applies to the result in ``to_arrow``."""
        return self._on_demand_feature_views

    @property
    def metadata(self) -> RetrievalMetadata | None:
        """Feature references, entity keys and event-time range of the request."""
        return self._metadata

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        """The result as an arrow table (Feast adds on-demand features and validation)."""
        return self._compute()

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        """The result as a pandas dataframe."""
        return self._compute().to_pandas()


class DuckDBAsofOfflineStore(OfflineStore):
    """Point-in-time joins and materialisation reads over parquet ``FileSource``s, in DuckDB."""

    @staticmethod
    def get_historical_features(
        config: RepoConfig,
        feature_views: list[FeatureView],
        feature_refs: list[str],
        entity_df: pd.DataFrame | str | None,
        registry: BaseRegistry,
        project: str,
        full_feature_names: bool = False,
        **kwargs: Any,
    ) -> RetrievalJob:
        """Each entity row joined, per feature view, with the latest source row known then."""
        if not isinstance(entity_df, pd.DataFrame):
            raise NotImplementedError(
                "DuckDBAsofOfflineStore joins features onto a pandas entity dataframe; got "
                f"{type(entity_df).__name__} (SQL entity queries and start/end-date retrieval "
                "without entity rows are not supported)"
            )
        timestamp_column = offline_utils.infer_event_timestamp_from_entity_df(
            dict(zip(entity_df.columns, entity_df.dtypes, strict=True))
        )
        plans = [_plan_view(config, fv, feature_refs, full_feature_names) for fv in feature_views]
        plans = [plan for plan in plans if plan.features]
        _check_entity_columns(entity_df, plans)
        event_times = _utc(entity_df[timestamp_column])
        metadata = RetrievalMetadata(
            features=feature_refs,
            keys=[c for c in entity_df.columns if c != timestamp_column],
            min_event_timestamp=_to_datetime(event_times.min()),
            max_event_timestamp=_to_datetime(event_times.max()),
        )
        return DuckDBAsofRetrievalJob(
            lambda: _point_in_time_join(entity_df, event_times, plans),
            full_feature_names=full_feature_names,
            on_demand_feature_views=OnDemandFeatureView.get_requested_odfvs(
                feature_refs, project, registry
            ),
            metadata=metadata,
        )

    @staticmethod
    def pull_latest_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None,
        start_date: datetime,
        end_date: datetime,
    ) -> RetrievalJob:
        """Per join key, the latest source row with event time in ``[start_date, end_date]``."""
        path = _parquet_path(config, data_source, f"data source {data_source.name!r}")
        query = _pull_query(
            path,
            [*join_key_columns, *feature_name_columns],
            timestamp_field,
            created_timestamp_column,
            (start_date, end_date),
            latest_per=join_key_columns,
        )
        return DuckDBAsofRetrievalJob(lambda: _fetch_arrow(query))

    @staticmethod
    def pull_all_from_table_or_query(
        config: RepoConfig,
        data_source: DataSource,
        join_key_columns: list[str],
        feature_name_columns: list[str],
        timestamp_field: str,
        created_timestamp_column: str | None = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> RetrievalJob:
        """Every source row with event time in ``[start_date, end_date]`` (either may be open)."""
        path = _parquet_path(config, data_source, f"data source {data_source.name!r}")
        query = _pull_query(
            path,
            [*join_key_columns, *feature_name_columns],
            timestamp_field,
            created_timestamp_column,
            (start_date, end_date),
        )
        return DuckDBAsofRetrievalJob(lambda: _fetch_arrow(query))


def _plan_view(
    config: RepoConfig, view: FeatureView, feature_refs: list[str], full_feature_names: bool
) -> ViewPlan:
    """Resolve a view's source path, field mapping, join-key map and requested features."""
    source = view.batch_source
    if source is None:
        raise ValueError(f"Feature view {view.name!r} has no batch source to read features from")
    path = _parquet_path(config, source, f"feature view {view.name!r}")
    # A field mapping renames source columns to Feast names; the query needs the source names.
    source_column = {v: k for k, v in source.field_mapping.items()}
    created = source.created_timestamp_column
    requested = f"{view.projection.name_to_use()}:"
    prefix = view.projection.name_alias or view.name
    features = [
        ref.split(":", 1)[1] for ref in feature_refs if ref.startswith(requested) and ":" in ref
    ]
    plan = ViewPlan(
        name=view.name,
        path=path,
        keys=[
            (
                source_column.get(c.name, c.name),
                view.projection.join_key_map.get(c.name, c.name),
            )
            for c in view.entity_columns
        ],
        timestamp=source_column.get(source.timestamp_field, source.timestamp_field),
        created=source_column.get(created, created) if created else None,
        ttl=view.ttl or None,
        features=[
            (source_column.get(f, f), f"{prefix}__{f}" if full_feature_names else f)
            for f in features
        ],
    )
    _check_source_columns(plan)
    return plan


def _parquet_path(config: RepoConfig, source: DataSource, owner: str) -> str:
    """The source's parquet file or folder, resolved against the feature repo."""
    if not isinstance(source, FileSource) or not isinstance(
        source.file_format, ParquetFormat | None
    ):
        raise ValueError(
            f"DuckDBAsofOfflineStore reads parquet FileSources; {owner} uses "
            f"{type(source).__name__} {source.name!r}"
        )
    return FileSource.get_uri_for_file_path(config.repo_path, source.path)


def _check_source_columns(plan: ViewPlan) -> None:
    """Fail before joining if the parquet source lacks a column the view reads."""
    needed = [s for s, _ in plan.keys] + [plan.timestamp] + [s for s, _ in plan.features]
    if plan.created:
        needed.append(plan.created)
    with _connect() as con:
        described = con.execute(f"DESCRIBE SELECT * FROM {_scan(plan.path)}").fetchall()
    present = {row[0] for row in described}
    missing = [c for c in needed if c not in present]
    if missing:
        raise ValueError(
            f"Feature view {plan.name!r}: source {plan.path} lacks columns {missing} "
            f"(it has {sorted(present)}); check the view's schema and the source's field_mapping"
        )


def _check_entity_columns(entity_df: pd.DataFrame, plans: list[ViewPlan]) -> None:
    """Join keys must be in the entity dataframe, and features must not overwrite its columns."""
    for plan in plans:
        missing = [e for _, e in plan.keys if e not in entity_df.columns]
        if missing:
            raise ValueError(
                f"Entity dataframe lacks columns {missing}, the join keys of feature view "
                f"{plan.name!r}; it has {list(entity_df.columns)}"
            )
        clashing = [o for _, o in plan.features if o in entity_df.columns]
        if clashing:
            raise ValueError(
                f"Features {clashing} of feature view {plan.name!r} share their names with "
                "entity dataframe columns; rename those columns or use full_feature_names=True"
            )


def _point_in_time_join(
    entity_df: pd.DataFrame, event_times: pd.Series, plans: list[ViewPlan]
) -> pa.Table:
    """The entity dataframe with each view's features appended, row for row."""
    result = pa.Table.from_pandas(entity_df, preserve_index=False)
    if not plans:
        return result
    keys = list(dict.fromkeys(e for plan in plans for _, e in plan.keys))
    request = entity_df[keys].reset_index(drop=True)
    request[EVENT_TS] = event_times.reset_index(drop=True)
    request[ROW] = np.arange(len(request))
    span = (_to_datetime(event_times.min()), _to_datetime(event_times.max()))
    with _connect() as con:
        con.register("entity_rows", request)
        con.execute(f"CREATE TEMP TABLE matches AS {_match_query(plans, span)}")
        features = con.execute(_fetch_query(plans)).to_arrow_table()
    for name, column in zip(features.column_names, features.columns, strict=True):
        result = result.append_column(name, column)
    return result


def _match_query(plans: list[ViewPlan], span: tuple[datetime | None, datetime | None]) -> str:
    """Per entity row and view: where in its parquet source the row's feature values are.

    The position is null when nothing is known at the entity's time, or what is known is older
    than the view's TTL: the latest row at or before the event time is checked against the TTL,
    for if it is too old, so is every other candidate. ``span`` is the first and last entity
    event time.
    """
    selected = [f"e.{ROW}"]
    joins = []
    for i, plan in enumerate(plans):
        v = f"v{i}"
        position = f"{v}.__position"
        if plan.ttl is not None:
            fresh = f"{v}.__ts >= e.{EVENT_TS} - {_interval(plan.ttl)}"
            position = f"CASE WHEN {fresh} THEN {position} END"
        selected.append(f"{position} AS {v}")
        keys = [f"e.{_ident(e)} = {v}.{_ident(s)}" for s, e in plan.keys]
        joins.append(
            f"ASOF LEFT JOIN ({_positions(plan, span)}) {v} "
            f"ON {' AND '.join([*keys, _not_later(plan, v)])}"
        )
    return f"SELECT {', '.join(selected)} FROM entity_rows e {' '.join(joins)}"


def _positions(plan: ViewPlan, span: tuple[datetime | None, datetime | None]) -> str:
    """The view's source rows as join key, UTC event time and position; no feature values.

    Rows stamped after the last entity event time, or older than the TTL at the first one, can
    answer no entity row: they are left out before the join sorts the rest.
    """
    ts = _utc_sql(plan.timestamp)
    first, last = span
    # Without a TTL, a row of any age may be the latest one known.
    oldest = first - plan.ttl if first is not None and plan.ttl is not None else None
    columns = [_ident(s) for s, _ in plan.keys]
    columns += [f"{ts} AS __ts", f"{POSITION} AS __position"]
    if plan.created:
        # Equal event times are ranked by created time, so ASOF compares both as one value;
        # a missing created time ranks below any known one.
        created = f"coalesce({_utc_sql(plan.created)}, '-infinity'::TIMESTAMPTZ)"
        columns.append(f"{{'ts': {ts}, 'created': {created}}} AS __rank")
    return f"SELECT {', '.join(columns)} FROM {_scan(plan.path)} WHERE {_within(ts, oldest, last)}"


def _not_later(plan: ViewPlan, v: str) -> str:
    """ASOF inequality: the source row is stamped at or before the entity's event time."""
    if plan.created:
        return f"{{'ts': e.{EVENT_TS}, 'created': 'infinity'::TIMESTAMPTZ}} >= {v}.__rank"
    return f"e.{EVENT_TS} >= {v}.__ts"


def _fetch_query(plans: list[ViewPlan]) -> str:
    """Every view's feature values at the matched positions, in entity-row order."""
    selected = []
    joins = []
    for i, plan in enumerate(plans):
        v = f"v{i}"
        columns = [f"{POSITION} AS __position"]
        columns += [f"{_ident(s)} AS {_ident(o)}" for s, o in plan.features]
        selected += [f"{v}.{_ident(o)}" for _, o in plan.features]
        joins.append(
            f"LEFT JOIN (SELECT {', '.join(columns)} FROM {_scan(plan.path)}) {v} "
            f"ON m.{v} = {v}.__position"
        )
    return f"SELECT {', '.join(selected)} FROM matches m {' '.join(joins)} ORDER BY m.{ROW}"


def _pull_query(
    path: str,
    columns: list[str],
    timestamp: str,
    created: str | None,
    window: tuple[datetime | None, datetime | None],
    latest_per: list[str] | None = None,
) -> str:
    """Source rows with event time in ``window`` (an open end is no bound), with both timestamps.

    With ``latest_per``, only the newest row of each such key: by event time, then created
    time (a missing one ranks last).
    """
    selected = [*columns, timestamp, *([created] if created else [])]
    ts = _utc_sql(timestamp)
    query = (
        f"SELECT {', '.join(_ident(c) for c in dict.fromkeys(selected))} FROM {_scan(path)} "
        f"WHERE {_within(ts, *window)}"
    )
    if latest_per is None:
        return query
    partition = f"PARTITION BY {', '.join(_ident(k) for k in latest_per)} " if latest_per else ""
    order = f"{ts} DESC" + (f", {_utc_sql(created)} DESC NULLS LAST" if created else "")
    return f"{query} QUALIFY row_number() OVER ({partition}ORDER BY {order}) = 1"


def _within(ts: str, start: datetime | None, end: datetime | None) -> str:
    """SQL condition: timestamp ``ts`` is known and in ``[start, end]``; no bound where None."""
    bounds = [f"{ts} IS NOT NULL"]
    if start is not None:
        bounds.append(f"{ts} >= {_timestamp_literal(start)}")
    if end is not None:
        bounds.append(f"{ts} <= {_timestamp_literal(end)}")
    return " AND ".join(bounds)


def _fetch_arrow(query: str) -> pa.Table:
    """Run one query on a fresh connection."""
    with _connect() as con:
        return con.execute(query).to_arrow_table()


@contextmanager
def _connect() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection in UTC, so naive timestamps are read as UTC."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


def _scan(path: str) -> str:
    """``read_parquet`` over a file, a folder of files or a glob."""
    return f"read_parquet({_string_literal(path)})"


def _utc_sql(column: str) -> str:
    """A source timestamp column as TIMESTAMPTZ (naive values taken as UTC)."""
    return f"CAST({_ident(column)} AS TIMESTAMPTZ)"


def _ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _string_literal(text: str) -> str:
    """A quoted SQL string."""
    return "'" + text.replace("'", "''") + "'"


def _timestamp_literal(moment: datetime) -> str:
    """A TIMESTAMPTZ literal; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return f"'{moment.astimezone(UTC).isoformat()}'::TIMESTAMPTZ"


def _interval(span: timedelta) -> str:
    """A duration as a DuckDB interval, in whole microseconds (its timestamp resolution)."""
    return f"to_microseconds({span // timedelta(microseconds=1)})"


def _utc(values: pd.Series) -> pd.Series:
    """Event timestamps as UTC; naive ones are taken to be UTC already, as Feast does."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(values.dtype):
        return values.dt.tz_localize("UTC")
    return pd.to_datetime(values, utc=True)  # strings, objects: parsed, as Feast parses them


def _to_datetime(value: Any) -> datetime | None:
    """A pandas timestamp as a datetime; NaT (no entity rows) as None."""
    return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime(warn=False)
