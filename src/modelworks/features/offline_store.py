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

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, Literal

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

from modelworks.features.offline_sql import (
    EVENT_TS,
    ROW,
    ViewPlan,
    connect,
    fetch_arrow,
    fetch_query,
    match_query,
    pull_query,
    scan,
)

__all__ = [
    "STORE_TYPE",
    "DuckDBAsofOfflineStore",
    "DuckDBAsofOfflineStoreConfig",
    "DuckDBAsofRetrievalJob",
    "ViewPlan",
]

STORE_TYPE: Final = "modelworks.features.offline_store.DuckDBAsofOfflineStore"


class DuckDBAsofOfflineStoreConfig(FeastConfigBaseModel):
    """``offline_store:`` section of ``feature_store.yaml`` selecting this store."""

    type: Literal["modelworks.features.offline_store.DuckDBAsofOfflineStore"] = STORE_TYPE


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
        return DuckDBAsofOfflineStore.pull_all_from_table_or_query(
            config,
            data_source,
            join_key_columns,
            feature_name_columns,
            timestamp_field,
            created_timestamp_column,
            start_date,
            end_date,
            latest_per=join_key_columns,
        )

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
        *,
        latest_per: list[str] | None = None,
    ) -> RetrievalJob:
        """Every source row with event time in ``[start_date, end_date]`` (either may be open).

        With ``latest_per`` (not a Feast argument: ``pull_latest_from_table_or_query`` passes
        its join keys), only the newest such row per key.
        """
        path = _parquet_path(config, data_source, f"data source {data_source.name!r}")
        query = pull_query(
            path,
            [*join_key_columns, *feature_name_columns],
            timestamp_field,
            created_timestamp_column,
            (start_date, end_date),
            latest_per=latest_per,
        )
        return DuckDBAsofRetrievalJob(lambda: fetch_arrow(query))


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
    with connect() as con:
        described = con.execute(f"DESCRIBE SELECT * FROM {scan(plan.path)}").fetchall()
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
    with connect() as con:
        con.register("entity_rows", request)
        con.execute(f"CREATE TEMP TABLE matches AS {match_query(plans, span)}")
        features = con.execute(fetch_query(plans)).to_arrow_table()
    for name, column in zip(features.column_names, features.columns, strict=True):
        result = result.append_column(name, column)
    return result


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
