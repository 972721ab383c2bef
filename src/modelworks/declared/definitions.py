"""Feast objects of a declared use case, every name namespaced ``<use_case>__``.

One entity per join key, one file source and feature view per declared view (over the parquet
table the pipeline writes under ``data/04_feature/<use_case>/``), one feature service over
them all. Feast is imported inside ``feature_definitions`` so discovery stays cheap.
"""

from __future__ import annotations

from typing import Any

from modelworks.declared.params import feast_name, feature_store_params
from modelworks.declared.schema import DeclaredSpec
from modelworks.features import EVENT_TIMESTAMP

FEATURE_DIR = "data/04_feature"
"""Where the catalog pattern ``{use_case}.published_feature_table_{view}`` writes each view's
table, once it passed the feature checks."""


def feature_table_path(use_case: str, view: str) -> str:
    """The table of ``view`` as Feast reads it: relative to feature_repo/, as Feast resolves."""
    return f"../{FEATURE_DIR}/{use_case}/{view}.parquet"


def feature_definitions(use_case: str, spec: DeclaredSpec) -> list[Any]:
    """Entities, sources, feature views and the model's feature service of ``use_case``."""
    from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
    from feast.types import Bool, Float64, Int64, String

    value_types = {"string": ValueType.STRING, "int": ValueType.INT64}
    feast_types = {"string": String, "int": Int64, "float": Float64, "bool": Bool}
    entities = {
        key: Entity(
            name=feast_name(use_case, key),
            join_keys=[key],
            value_type=value_types[spec.dtype(spec.entity_rows.table, key)],
            description=f"{use_case}: rows keyed by {key}",
        )
        for key in spec.join_keys
    }
    objects: list[Any] = list(entities.values())
    views: list[Any] = []
    for name, view in spec.feature_views.items():
        source = FileSource(
            name=feast_name(use_case, f"{name}_source"),
            path=feature_table_path(use_case, name),
            timestamp_field=EVENT_TIMESTAMP,
        )
        if view.aggregations:
            fields = [
                Field(
                    name=f"{view.prefix}{feature}", dtype=Int64 if "_count_" in feature else Float64
                )
                for aggregation in view.aggregations
                for feature in aggregation.feature_names
            ]
        else:
            fields = [
                Field(name=feature, dtype=feast_types[spec.dtype(view.table, column)])
                for feature, column in view.feature_columns.items()
            ]
        feature_view = FeatureView(
            name=feast_name(use_case, f"{name}_fv"),
            entities=[entities[view.entity]],
            ttl=view.ttl,
            schema=fields,
            source=source,
            description=f"{use_case}: {view.kind} features of table {view.table}",
        )
        objects += [source, feature_view]
        views.append(feature_view)
    service = FeatureService(
        name=feature_store_params(use_case, spec).service,
        features=views,
        description=spec.description or f"Features of the {use_case} model",
    )
    return [*objects, service]
