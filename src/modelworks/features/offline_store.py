"""A Feast offline store that joins parquet sources point in time with DuckDB's ASOF join.

modelworks' embedded default, chosen in ``feature_store.yaml`` like any custom Feast store::

    offline_store:
      type: modelworks.features.offline_store.DuckDBAsofOfflineStore
      memory_limit: 4GB           # optional; default: a tenth of the machine's memory
      threads: 2                  # optional; default: one per CPU this process may use
      temp_directory: /scratch    # optional; where DuckDB spills; default: under the temp dir

It follows Feast's point-in-time rules: each entity row gets, per feature view, the latest
source row at or before its event timestamp and no older than the view's TTL (inclusive at both
ends; a TTL of zero or none means no limit); rows with equal event timestamps are ranked by the
source's created timestamp column when it has one (rows equal on both: any one of them, as in
Feast). Every entity row comes back once, in its original order, its own columns untouched, with
nulls where nothing matched. Timestamps are compared in UTC (naive ones are read as UTC) at
DuckDB's microsecond precision.

The join runs in two passes over each source. The ASOF join only carries each source row's
key, timestamp and position in its parquet file, so its sort stays small; a second join then
fetches the feature values of the rows it picked, which are put in entity-row order as they
arrive rather than sorted by DuckDB. DuckDB works inside ``memory_limit`` and spills its sorts
and joins to ``temp_directory`` beyond it, so peak memory stays near the limit plus the size of
the result, whatever the size of the source; ``to_df`` builds the dataframe column by column
and reuses the entity dataframe's own columns, so the result is held once. (Both passes read
the files as they are then: rewrite a source while a retrieval from it runs, and the result is
undefined, as for any reader of parquet files.)

Not supported (NotImplementedError): entity rows given as SQL, retrieval by date range
without entity rows, ``filter_by_created_timestamp``, and writes (push to the offline store,
feature logging, saved datasets).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
from feast.data_source import DataSource
from feast.feature_view import FeatureView
from feast.infra.offline_stores import offline_utils
from feast.infra.offline_stores.offline_store import (
    OfflineStore,
    RetrievalJob,
    RetrievalMetadata,
)
from feast.infra.registry.base_registry import BaseRegistry
from feast.on_demand_feature_view import OnDemandFeatureView
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from pydantic import Field

from modelworks.features.offline_job import DuckDBAsofRetrievalJob
from modelworks.features.offline_plan import check_entity_columns, parquet_path, plan_view
from modelworks.features.offline_sql import (
    EVENT_TS,
    ROW,
    EngineSettings,
    ViewPlan,
    connect,
    fetch_arrow,
    fetch_query,
    match_query,
    pull_query,
)

__all__ = [
    "STORE_TYPE",
    "DuckDBAsofOfflineStore",
    "DuckDBAsofOfflineStoreConfig",
    "DuckDBAsofRetrievalJob",
    "EngineSettings",
    "ViewPlan",
    "engine_settings",
]

STORE_TYPE: Final = "modelworks.features.offline_store.DuckDBAsofOfflineStore"
# Share of the machine's memory DuckDB may use by default: the result lands in Python beside
# it, and other processes share the machine; past it DuckDB spills to disk.
MEMORY_SHARE: Final = 0.1
MIN_MEMORY_LIMIT: Final = 1 << 30
SPILL_FOLDER: Final = "modelworks-duckdb"
# Rows per record batch read back from DuckDB.
BATCH_ROWS: Final = 1 << 17
_BYTES = r"(?i)^\s*\d+(\.\d+)?\s*(b|bytes|kb|mb|gb|tb|kib|mib|gib|tib)\s*$"


class DuckDBAsofOfflineStoreConfig(FeastConfigBaseModel):
    """``offline_store:`` section of ``feature_store.yaml`` selecting this store.

    ``memory_limit`` (``"4GB"``, ``"1.5GiB"``), ``threads`` and ``temp_directory`` (the spill
    folder; a relative path is taken from the feature repo) bound the DuckDB connection of
    each retrieval; left out, they follow the machine (see ``engine_settings``).
    """

    type: Literal["modelworks.features.offline_store.DuckDBAsofOfflineStore"] = STORE_TYPE
    memory_limit: str | None = Field(default=None, pattern=_BYTES)
    threads: int | None = Field(default=None, ge=1)
    temp_directory: str | None = None


def engine_settings(config: RepoConfig) -> EngineSettings:
    """The DuckDB settings of a retrieval: the store's configuration, or the machine's defaults.

    Defaults: a tenth of the machine's memory (its cgroup limit where lower), at least 1 GiB;
    one thread per CPU this process may run on; ``<temp dir>/modelworks-duckdb`` to spill to.
    """
    store = config.offline_store
    if not isinstance(store, DuckDBAsofOfflineStoreConfig):
        store = DuckDBAsofOfflineStoreConfig()
    spill = Path(store.temp_directory or Path(tempfile.gettempdir()) / SPILL_FOLDER)
    if not spill.is_absolute() and config.repo_path is not None:
        spill = Path(config.repo_path) / spill
    return EngineSettings(
        memory_limit=store.memory_limit or default_memory_limit(machine_memory()),
        threads=store.threads or len(os.sched_getaffinity(0)),
        temp_directory=str(spill),
    )


def default_memory_limit(memory_bytes: int) -> str:
    """DuckDB's default memory limit on a machine with ``memory_bytes`` of memory."""
    limit = max(int(memory_bytes * MEMORY_SHARE), MIN_MEMORY_LIMIT)
    return f"{limit >> 20}MiB"


def machine_memory(cgroup_limit: Path = Path("/sys/fs/cgroup/memory.max")) -> int:
    """Physical memory in bytes, or this process's cgroup memory limit where that is lower."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        limit = cgroup_limit.read_text().strip()
    except OSError:
        return physical
    return min(physical, int(limit)) if limit.isdigit() else physical


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
        plans = [plan_view(config, fv, feature_refs, full_feature_names) for fv in feature_views]
        plans = [plan for plan in plans if plan.features]
        check_entity_columns(entity_df, plans)
        event_times = _utc(entity_df[timestamp_column])
        metadata = RetrievalMetadata(
            features=feature_refs,
            keys=[c for c in entity_df.columns if c != timestamp_column],
            min_event_timestamp=_to_datetime(event_times.min()),
            max_event_timestamp=_to_datetime(event_times.max()),
        )
        settings = engine_settings(config)

        def features() -> pa.Table:
            return _point_in_time_features(entity_df, event_times, plans, settings)

        return DuckDBAsofRetrievalJob(
            lambda: _append_columns(
                pa.Table.from_pandas(entity_df, preserve_index=False), features()
            ),
            compute_df=lambda: _join_frames(entity_df, features()),
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
        path = parquet_path(config, data_source, f"data source {data_source.name!r}")
        query = pull_query(
            path,
            [*join_key_columns, *feature_name_columns],
            timestamp_field,
            created_timestamp_column,
            (start_date, end_date),
            latest_per=latest_per,
        )
        settings = engine_settings(config)
        return DuckDBAsofRetrievalJob(lambda: fetch_arrow(query, settings))


def _point_in_time_features(
    entity_df: pd.DataFrame,
    event_times: pd.Series,
    plans: list[ViewPlan],
    settings: EngineSettings,
) -> pa.Table:
    """Each view's feature columns, row for row with the entity dataframe (null: no match)."""
    if not plans:
        return pa.table({})
    keys = list(dict.fromkeys(e for plan in plans for _, e in plan.keys))
    request = entity_df[keys].reset_index(drop=True)
    request[EVENT_TS] = event_times.reset_index(drop=True)
    request[ROW] = np.arange(len(request))
    span = (_to_datetime(event_times.min()), _to_datetime(event_times.max()))
    columns: list[pa.Table] = []
    with connect(settings) as con:
        con.register("entity_rows", request)
        con.execute(f"CREATE TEMP TABLE matches AS {match_query(plans, span)}")
        con.unregister("entity_rows")
        del request
        for i, plan in enumerate(plans):
            found = con.execute(fetch_query(plan, i)).to_arrow_reader(BATCH_ROWS)
            columns.append(_in_row_order(found, len(entity_df)))
    return _append_columns(columns[0], *columns[1:])


def _in_row_order(found: pa.RecordBatchReader, rows: int) -> pa.Table:
    """Matched values (entity-row number first) put in their rows; unmatched rows are null.

    One column at a time, each dropped from the matched values once placed, so that the
    result and what is left of the matched values together never hold a column twice.
    """
    matched = found.read_all()
    where = np.full(rows, -1, dtype=np.int64)
    where[matched.column(ROW).to_numpy()] = np.arange(matched.num_rows)
    indices = pa.array(where, mask=where < 0)
    del where
    matched = matched.drop_columns([ROW])
    placed = {}
    for name in matched.column_names:
        placed[name] = matched.column(name).take(indices)
        matched = matched.drop_columns([name])
    return pa.table(placed)


def _append_columns(table: pa.Table, *others: pa.Table) -> pa.Table:
    """``table`` with the columns of ``others`` after its own (all have the same rows)."""
    for other in others:
        for name, column in zip(other.column_names, other.columns, strict=True):
            table = table.append_column(name, column)
    return table


def _join_frames(entity_df: pd.DataFrame, features: pa.Table) -> pd.DataFrame:
    """The entity dataframe's own columns (not copied), then the features, indexed 0..n-1.

    The features convert column by column, each arrow column freed once converted, and the
    frames join without consolidating their blocks: the result is never held twice.
    """
    own = entity_df.copy(deep=False)
    own.index = pd.RangeIndex(len(own))
    if not features.num_columns:
        return own
    converted = features.to_pandas(split_blocks=True, self_destruct=True)
    del features
    return pd.concat([own, converted], axis=1, copy=False)


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
