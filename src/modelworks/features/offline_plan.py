"""What a retrieval reads from each feature view, resolved and checked before any join runs."""

from __future__ import annotations

import pandas as pd
from feast.data_format import ParquetFormat
from feast.data_source import DataSource
from feast.feature_view import FeatureView
from feast.infra.offline_stores.file_source import FileSource
from feast.repo_config import RepoConfig

from modelworks.features.offline_sql import ViewPlan, connect, scan


def plan_view(
    config: RepoConfig, view: FeatureView, feature_refs: list[str], full_feature_names: bool
) -> ViewPlan:
    """Resolve a view's source path, field mapping, join-key map and requested features."""
    source = view.batch_source
    if source is None:
        raise ValueError(f"Feature view {view.name!r} has no batch source to read features from")
    path = parquet_path(config, source, f"feature view {view.name!r}")
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


def parquet_path(config: RepoConfig, source: DataSource, owner: str) -> str:
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


def check_entity_columns(entity_df: pd.DataFrame, plans: list[ViewPlan]) -> None:
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
